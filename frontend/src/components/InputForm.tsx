/**
 * The run's input, as a form built from the workflow's `inputs` JSON Schema,
 * and the Run button. A refused run keeps what the user typed.
 */
import Form from "@rjsf/core";
import type { IChangeEvent } from "@rjsf/core";
import type { RJSFSchema } from "@rjsf/utils";
import validator from "@rjsf/validator-ajv8";
import { useMemo, useState, type FormEvent } from "react";

import type { JsonSchema } from "../graph/format";
import { errorsInWords } from "../forms/errors";
import { hasInputs, inputSchemaOf, inputUiSchema } from "../forms/inputUiSchema";

type Input = Record<string, unknown>;

interface Props {
  schema: JsonSchema | undefined;
  canRun: boolean;
  /** Why the run cannot start, shown next to the disabled button. */
  disabledReason: string | null;
  starting: boolean;
  error: string | null;
  onRun: (input: Input) => void;
}

export function InputForm({ schema, canRun, disabledReason, starting, error, onRun }: Props) {
  const formSchema = useMemo(() => inputSchemaOf(schema) as RJSFSchema, [schema]);
  const uiSchema = useMemo(() => inputUiSchema(schema), [schema]);
  const transformErrors = useMemo(() => errorsInWords(schema), [schema]);
  const [formData, setFormData] = useState<Input | undefined>(undefined);
  const disabled = !canRun || starting;

  const submit = (event: IChangeEvent<Input>, nativeEvent: FormEvent) => {
    nativeEvent.preventDefault();
    if (!disabled) onRun(event.formData ?? {});
  };

  return (
    <section className="panel input-form" aria-labelledby="inputs-heading">
      <h2 id="inputs-heading" className="panel-title">
        Inputs
      </h2>
      {!hasInputs(schema) && <p className="muted small">This workflow takes no input.</p>}
      <Form<Input>
        schema={formSchema}
        uiSchema={uiSchema}
        formData={formData}
        validator={validator}
        onChange={(event) => setFormData(event.formData)}
        onSubmit={submit}
        showErrorList={false}
        transformErrors={transformErrors}
        noHtml5Validate
        disabled={starting}
        className="rjsf"
        idPrefix="input"
      >
        <div className="form-actions">
          <button
            type="submit"
            className="primary run-button"
            disabled={disabled}
            aria-describedby={disabledReason ? "run-disabled-reason" : undefined}
            data-testid="run-button"
          >
            {starting ? "Starting…" : "▶ Run"}
          </button>
          {disabledReason && (
            <p id="run-disabled-reason" className="muted small">
              {disabledReason}
            </p>
          )}
        </div>
      </Form>
      {error && (
        <p className="form-error" role="alert" data-testid="run-error">
          {error}
        </p>
      )}
    </section>
  );
}
