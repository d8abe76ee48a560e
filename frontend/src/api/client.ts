/**
 * The REST API as the page uses it: same-origin session auth, Django's CSRF
 * token on every unsafe request, errors turned into one readable message.
 */

export class ApiError extends Error {
  readonly status: number;
  readonly body: unknown;

  constructor(status: number, message: string, body: unknown) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

/** The CSRF token: Django's cookie, else the hidden input `{% csrf_token %}` renders. */
export function csrfToken(doc: Document = document): string {
  const cookie = doc.cookie
    .split(";")
    .map((c) => c.trim())
    .find((c) => c.startsWith("csrftoken="));
  if (cookie) return decodeURIComponent(cookie.slice("csrftoken=".length));
  const input = doc.querySelector<HTMLInputElement>("input[name=csrfmiddlewaretoken]");
  return input?.value ?? "";
}

/**
 * The sentence to show for an error body. The API answers `{"error": "..."}`;
 * DRF's own errors come as `{"detail": "..."}` or `{"field": ["..."]}`.
 */
export function errorMessage(body: unknown, status: number): string {
  if (body && typeof body === "object") {
    const record = body as Record<string, unknown>;
    if (typeof record.error === "string") return record.error;
    if (typeof record.detail === "string") return record.detail;
    for (const [field, value] of Object.entries(record)) {
      const first = Array.isArray(value) ? value[0] : value;
      if (typeof first === "string") return `${field}: ${first}`;
    }
  }
  if (typeof body === "string" && body.trim() && !body.trimStart().startsWith("<")) return body.trim().slice(0, 300);
  if (status === 403) return "You are not allowed to do this (signed out, or your role in the team is too low).";
  if (status === 404) return "Not found: it may have been deleted, or it belongs to a team you are not in.";
  if (status >= 500) return `The server failed (HTTP ${status}). Try again; if it persists, check the server log.`;
  return `The request failed (HTTP ${status}).`;
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = csrfToken();
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (exc) {
    throw new ApiError(0, `Cannot reach the server: ${(exc as Error).message}`, null);
  }
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text for the message
  }
  if (!response.ok) throw new ApiError(response.status, errorMessage(parsed, response.status), parsed);
  return parsed as T;
}

export const api = {
  get: <T>(path: string) => request<T>("GET", path),
  post: <T>(path: string, body?: unknown) => request<T>("POST", path, body ?? {}),
  put: <T>(path: string, body?: unknown) => request<T>("PUT", path, body ?? {}),
  patch: <T>(path: string, body?: unknown) => request<T>("PATCH", path, body ?? {}),
  del: <T>(path: string) => request<T>("DELETE", path),
};
