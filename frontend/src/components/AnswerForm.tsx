/**
 * A waiting `human` step, answered where the run is watched: its question,
 * its form when it has one, a comment, Approve or Reject. The server checks
 * who may answer and the form; its refusal shows here, and nothing typed is lost.
 */
import Form from "@rjsf/core";
import type { RJSFSchema } from "@rjsf/utils";
import validator from "@rjsf/validator-ajv8";
import { useState, type FormEvent } from "react";

import { answerStep } from "../api/endpoints";
import type { StepState } from "../run/reducer";

interface HumanConfig {
  prompt?: string;
  form?: RJSFSchema | null;
  allow_reject?: boolean;
}

interface Props {
  runId: number;
  step: StepState;
  name: string;
}

type Decision = "approve" | "reject";

export function AnswerForm({ runId, step, name }: Props) {
  const config = (step.input ?? {}) as HumanConfig;
  const [answer, setAnswer] = useState<Record<string, unknown>>({});
  const [comment, setComment] = useState("");
  const [sending, setSending] = useState<Decision | null>(null);
  const [sent, setSent] = useState<Decision | null>(null);
  const [error, setError] = useState<string | null>(null);

  const send = (decision: Decision) => {
    setSending(decision);
    setError(null);
    answerStep(runId, { node: step.node, key: step.key, decision, answer: decision === "approve" ? answer : undefined, comment })
      .then(() => setSent(decision))
      .catch((exc: Error) => setError(exc.message))
      .finally(() => setSending(null));
  };
  const approve = (event: FormEvent) => {
    event.preventDefault();
    send("approve");
  };

  if (sent) {
    return (
      <p className="muted small" role="status" data-testid="answer-sent">
        {sent === "approve" ? "Approved" : "Rejected"}; the run goes on.
      </p>
    );
  }
  const formId = `answer-${step.node}-${step.key}`.replace(/[^\w-]/g, "_");
  return (
    <form className="answer-form" aria-label={`Answer ${name}`} data-testid="answer-form" onSubmit={approve} noValidate>
      {config.prompt && <p className="answer-prompt">{config.prompt}</p>}
      {config.form && (
        <Form
          tagName="div"
          schema={config.form}
          formData={answer}
          validator={validator}
          onChange={(event) => setAnswer((event.formData as Record<string, unknown>) ?? {})}
          showErrorList={false}
          noHtml5Validate
          disabled={sending !== null}
          className="rjsf"
          idPrefix={formId}
          uiSchema={{ "ui:submitButtonOptions": { norender: true } }}
        />
      )}
      <label className="answer-comment">
        Comment
        <textarea value={comment} onChange={(event) => setComment(event.target.value)} rows={2} disabled={sending !== null} />
      </label>
      <div className="form-actions">
        <button type="submit" className="primary" disabled={sending !== null}>
          {sending === "approve" ? "Approving…" : "Approve"}
        </button>
        {config.allow_reject !== false && (
          <button type="button" onClick={() => send("reject")} disabled={sending !== null}>
            {sending === "reject" ? "Rejecting…" : "Reject"}
          </button>
        )}
      </div>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
