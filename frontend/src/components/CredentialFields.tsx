/**
 * The credential and model fields of a node's form: the credential is picked
 * from the team's credentials of the right kind (model credentials for llm,
 * classify and agent; http credentials for http), and the model field offers
 * what that credential's provider lists — free text still allowed.
 */
import type { WidgetProps } from "@rjsf/utils";
import { createContext, useContext, useEffect, useState } from "react";

import { credentialModels, teamCredentials, type CredentialInfo } from "../api/credentials";

export interface CredentialScope {
  team: number | null;
  nodeType: string;
  /** The node's current credential name: what the model list depends on. */
  credential: string | null;
}

export const CredentialScopeContext = createContext<CredentialScope>({ team: null, nodeType: "", credential: null });

export const MODEL_NODE_TYPES = new Set(["llm", "classify", "agent"]);

function useCredentials(team: number | null): CredentialInfo[] | null {
  const [list, setList] = useState<CredentialInfo[] | null>(null);
  useEffect(() => {
    let live = true;
    if (team != null) void teamCredentials(team).then((l) => live && setList(l));
    return () => {
      live = false;
    };
  }, [team]);
  return list;
}

export function CredentialWidget(props: WidgetProps) {
  const scope = useContext(CredentialScopeContext);
  const all = useCredentials(scope.team);
  const kind = MODEL_NODE_TYPES.has(scope.nodeType) ? "model" : "http";
  const usable = (all ?? []).filter((c) => c.kind === kind);
  const value = typeof props.value === "string" ? props.value : "";
  const missing = value !== "" && all != null && !usable.some((c) => c.name === value);
  return (
    <div>
      <select
        id={props.id}
        aria-label={props.label || "Credential"}
        value={value}
        disabled={props.disabled || props.readonly}
        onChange={(e) => props.onChange(e.target.value === "" ? undefined : e.target.value)}
      >
        <option value="">{kind === "model" ? "Server default (OPENAI_API_KEY, or the demo model)" : "None"}</option>
        {usable.map((c) => (
          <option key={c.id} value={c.name}>
            {c.name} — {kind === "model" ? c.provider : c.allowed_hosts.join(", ")}
          </option>
        ))}
        {missing && <option value={value}>{value} (not a {kind} credential of this team)</option>}
      </select>
      {missing && <p className="form-error small">This team has no {kind} credential called “{value}”: pick one, or add it on the team's Credentials page.</p>}
      {all != null && usable.length === 0 && (
        <p className="muted small">
          No {kind} credentials in this team yet{scope.team != null && <> — owners add them under <a href={`/teams/${scope.team}/credentials/`}>Credentials</a></>}.
        </p>
      )}
    </div>
  );
}

export function ModelWidget(props: WidgetProps) {
  const scope = useContext(CredentialScopeContext);
  const all = useCredentials(scope.team);
  const credential = (all ?? []).find((c) => c.kind === "model" && c.name === scope.credential) ?? null;
  const [models, setModels] = useState<string[]>([]);
  useEffect(() => {
    let live = true;
    setModels([]);
    if (credential) void credentialModels(credential.id).then((m) => live && setModels(m));
    return () => {
      live = false;
    };
  }, [credential]);
  const listId = `${props.id}-models`;
  return (
    <div>
      <input
        id={props.id}
        aria-label={props.label || "Model"}
        list={listId}
        value={typeof props.value === "string" ? props.value : ""}
        placeholder={credential?.default_model || "the credential's default model"}
        disabled={props.disabled || props.readonly}
        onChange={(e) => props.onChange(e.target.value === "" ? undefined : e.target.value)}
      />
      <datalist id={listId}>
        {models.map((m) => (
          <option key={m} value={m} />
        ))}
      </datalist>
      {credential && models.length > 0 && <p className="muted small">{models.length} models offered by {credential.name}; any name may be typed.</p>}
    </div>
  );
}
