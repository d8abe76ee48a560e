/** A team's credentials and the models a credential's provider lists, as the node form picks them. */
import { api } from "./client";

export interface CredentialInfo {
  id: number;
  team: number;
  name: string;
  kind: "model" | "http";
  provider: string;
  base_url: string;
  default_model: string;
  allowed_hosts: string[];
}

const lists = new Map<number, Promise<CredentialInfo[]>>();
const models = new Map<number, Promise<string[]>>();

/** The team's credentials, fetched once per page. */
export function teamCredentials(team: number): Promise<CredentialInfo[]> {
  let found = lists.get(team);
  if (!found) {
    found = api.get<CredentialInfo[]>(`/api/credentials/?team=${team}`).catch(() => [] as CredentialInfo[]);
    lists.set(team, found);
  }
  return found;
}

/** What GET {base_url}/models lists for this credential's key (empty when it cannot tell). */
export function credentialModels(id: number): Promise<string[]> {
  let found = models.get(id);
  if (!found) {
    found = api
      .get<{ ok: boolean; models: string[] }>(`/api/credentials/${id}/models/`)
      .then((r) => (r.ok ? r.models : []))
      .catch(() => [] as string[]);
    models.set(id, found);
  }
  return found;
}
