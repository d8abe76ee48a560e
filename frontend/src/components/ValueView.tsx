/**
 * A value as readable text: strings as they are, objects as indented JSON,
 * and an object of fields (a step's rendered input) as one block per field.
 */
import { pretty } from "../format";

export function ValueView({ value, testId, className = "" }: { value: unknown; testId?: string; className?: string }) {
  const isText = typeof value === "string";
  return (
    <pre className={`value ${isText ? "is-text" : "is-json"} ${className}`} data-testid={testId}>
      {pretty(value)}
    </pre>
  );
}

export function FieldsView({ value }: { value: unknown }) {
  if (!value || typeof value !== "object" || Array.isArray(value)) return <ValueView value={value} />;
  const entries = Object.entries(value as Record<string, unknown>);
  if (!entries.length) return <p className="muted small">(empty)</p>;
  return (
    <dl className="fields">
      {entries.map(([name, field]) => (
        <div key={name} className="field">
          <dt>{name}</dt>
          <dd>
            <ValueView value={field} />
          </dd>
        </div>
      ))}
    </dl>
  );
}
