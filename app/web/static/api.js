// GraphQL over HTTP with the session cookie; a lost session sends the user back to sign in.

export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

/** Thrown after the page has started going back to the sign-in page. */
export class SessionEnded extends Error {}

const PAGES = new Set(["/", "/classroom", "/alerts", "/admin"]);

/** Only our own pages are ever a place to come back to (no open redirect through ?next=). */
export function safeNext(value) {
  return PAGES.has(value) ? value : "/";
}

let leaving = false;

/** Signing out on purpose: the socket closing behind it is not a lost session. */
export function signingOut() {
  leaving = true;
}

/** Go to the sign-in page, saying why, and come back here afterwards. */
export function sessionEnded(reason = "expired") {
  if (leaving) return;
  leaving = true;
  const next = safeNext(location.pathname);
  location.assign(`/login?reason=${encodeURIComponent(reason)}&next=${encodeURIComponent(next)}`);
}

export async function gql(query, variables = {}) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError("The server cannot be reached. Check the network and try again.", "NETWORK");
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The server answered ${response.status} without data.`, "INTERNAL");
  }
  const errors = body.errors || [];
  const codes = errors.map((error) => error.extensions && error.extensions.code);
  if (codes.includes("UNAUTHENTICATED")) {
    sessionEnded("expired");
    throw new SessionEnded("The session has ended.");
  }
  if (errors.length) {
    const first = errors[0];
    const message =
      codes[0] === "RATE_LIMITED" ? "Too many requests: wait a moment and try again." : first.message;
    throw new ApiError(message, codes[0] || "INTERNAL");
  }
  return body.data;
}

/** A mutation payload's `errors` as one sentence, or "" when there are none. */
export function userErrors(payload) {
  return (payload.errors || []).map((error) => error.message).join(" ");
}
