/**
 * An agent's work as cards — thought, tool call with its arguments,
 * observation, answer — streaming in while it runs (from its streamed text),
 * and from its recorded trace once it is done. See run/agentTrace.ts.
 */
import type { AgentCard } from "../run/agentTrace";
import { prettyArgs } from "../run/agentTrace";
import { Markdown } from "./Markdown";

const TITLES: Record<AgentCard["kind"], string> = {
  thought: "Thought",
  call: "Tool call",
  observation: "Observation",
  answer: "Answer",
};

export function AgentTrace({ cards, streaming }: { cards: AgentCard[]; streaming: boolean }) {
  if (!cards.length) return <p className="muted small">{streaming ? "The agent is thinking…" : "No turns recorded."}</p>;
  return (
    <ol className="agent-cards" data-testid="agent-cards" aria-label="The agent's turns">
      {cards.map((card, i) => (
        <li key={i} className={`agent-card kind-${card.kind} ${"ok" in card && card.ok === false ? "is-error" : ""}`} data-testid={`agent-card-${card.kind}`}>
          <div className="agent-card-head">
            <span className="agent-card-kind">{TITLES[card.kind]}</span>
            {card.kind === "call" && <code className="agent-tool">{card.tool}</code>}
            <span className="muted small">turn {card.iteration}</span>
          </div>
          {card.kind === "call" ? (
            <pre className="value agent-args" data-testid="agent-args">{prettyArgs(card.args)}</pre>
          ) : card.kind === "observation" ? (
            <pre className="value">{card.text}</pre>
          ) : card.kind === "thought" ? (
            <p className="agent-thought">{card.text}</p>
          ) : (
            <Markdown text={card.text} className="agent-text" />
          )}
          {streaming && i === cards.length - 1 && <span className="streaming-dot" aria-label="streaming" />}
        </li>
      ))}
    </ol>
  );
}
