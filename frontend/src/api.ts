// Thin client for the platform's REST API: session cookie + CSRF header, one error shape.

import type { components } from "./generated/openapi";

export interface Me {
  id: number;
  username: string;
  experience: "junior" | "senior" | null;
  role: "reader" | "admin" | null;
  is_staff: boolean;
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public fields?: Record<string, unknown>,
    public detail: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

function csrfToken(): string {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const method = (init.method ?? "GET").toUpperCase();
  const headers = new Headers(init.headers);
  headers.set("Accept", "application/json");
  if (init.body && !(init.body instanceof FormData)) headers.set("Content-Type", "application/json");
  if (method !== "GET" && method !== "HEAD") headers.set("X-CSRFToken", csrfToken());
  const response = await fetch(path, { ...init, headers, credentials: "same-origin" });
  if (response.status === 204) return undefined as T;
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = body?.error ?? {};
    throw new ApiError(response.status, error.code ?? "error", error.message ?? response.statusText, error.fields, error);
  }
  return body as T;
}

export async function login(username: string, password: string): Promise<Me> {
  await api<void>("/api/auth/login/"); // sets the CSRF cookie
  return api<Me>("/api/auth/login/", { method: "POST", body: JSON.stringify({ username, password }) });
}

export const logout = () => api<void>("/api/auth/logout/", { method: "POST" });
export const fetchMe = () => api<Me>("/api/auth/me/");

export interface MyProject {
  slug: string;
  name: string;
  role: "reader" | "admin";
}

// The user's projects and their role in each (a project admin runs only the projects they admin).
export const fetchMyProjects = () => api<MyProject[]>("/api/projects/");

export type CaseSummary = components["schemas"]["CaseSummaryOutput"];
export type Worklist = components["schemas"]["Worklist"];

/** The worklist's filters, sort and page; each left out is not sent (the server's default). */
export interface WorklistQuery {
  project?: string;
  status?: "new" | "draft" | "submitted";
  reference?: "true" | "false";
  search?: string;
  disagreement?: string;
  sort?: "priority" | "date" | "-date";
  limit?: number;
  offset?: number;
}

export const fetchWorklist = (query: WorklistQuery = {}) => {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== "") params.set(key, String(value));
  }
  const suffix = params.size ? `?${params}` : "";
  return api<Worklist>(`/api/reading/worklist/${suffix}`);
};

export type CaseHistoryEntry = components["schemas"]["CaseHistoryEntryOutput"];

// A case's history (admins of its project).
export const fetchCaseHistory = (caseId: number) => api<CaseHistoryEntry[]>(`/api/dashboard/cases/${caseId}/history/`);
