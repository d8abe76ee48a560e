/**
 * A step's output as a person reads it: an agent's turns as cards, text as
 * Markdown (sanitized, the renderer of the notes) with a switch to the raw
 * text, anything else as JSON. The raw value is always one click away.
 */
import { useMemo, useState } from "react";

import { cardsFromOutput, cardsFromStream } from "../run/agentTrace";
import { AgentTrace } from "./AgentTrace";
import { Markdown } from "./Markdown";
import { ValueView } from "./ValueView";

export function StepOutput({ value, streamed, nodeType, streaming }: { value: unknown; streamed: string; nodeType: string | null; streaming: boolean }) {
  const [raw, setRaw] = useState(false);
  const cards = useMemo(() => {
    if (nodeType !== "agent") return null;
    return cardsFromOutput(value) ?? (streamed ? cardsFromStream(streamed) : streaming ? [] : null);
  }, [nodeType, value, streamed, streaming]);
  if (cards) {
    return (
      <div className="step-output-box">
        <button type="button" className="link small output-toggle" aria-pressed={raw} onClick={() => setRaw((r) => !r)} data-testid="agent-raw-toggle">
          {raw ? "cards" : "raw"}
        </button>
        {raw ? (
          <ValueView value={value ?? streamed} testId="step-output" className="step-output" />
        ) : (
          <>
            <AgentTrace cards={cards} streaming={streaming} />
            <AgentOutcome value={value} />
          </>
        )}
      </div>
    );
  }
  const shown = value ?? streamed;
  // While text streams in it stays plain (half a Markdown table re-renders badly); once done, it is rendered.
  if (typeof shown === "string" && shown && !streaming) {
    return (
      <div className="step-output step-output-text" data-testid="step-output" data-raw={shown}>
        <Markdown text={shown} />
      </div>
    );
  }
  return <ValueView value={shown ?? ""} testId="step-output" className={`step-output ${streaming ? "is-streaming" : ""}`} />;
}

/** The agent's result beside its turns: its answer or why it stopped. */
function AgentOutcome({ value }: { value: unknown }) {
  const out = value as { reason?: string; partial?: string; iterations?: number } | null;
  if (!out || typeof out !== "object" || !out.reason) return null;
  return (
    <p className="agent-stopped" data-testid="agent-stopped">
      <strong>Stopped:</strong> {out.reason}
    </p>
  );
}
