// Sign in with email and password; the server answers with the session cookie.
import { ApiError, gql, safeNext } from "./api.js";
import { byId } from "./dom.js";
import { homeFor } from "./session.js";

const LOGIN = `mutation Login($input: LoginInput!) {
  login(input: $input) {
    viewer { roles }
    errors { field code message }
  }
}`;

const REASONS = {
  expired: "Your session has expired. Please sign in again.",
  ended: "Your session has ended (signed out elsewhere, or your access changed). Please sign in again.",
  signedout: "You have signed out.",
};

const params = new URLSearchParams(location.search);
const notice = byId("notice");
const problem = byId("problem");
const form = byId("login-form");

const reason = REASONS[params.get("reason")];
if (reason) {
  notice.textContent = reason;
  notice.hidden = false;
}

// The button stays disabled until this script runs, so the form is never sent natively.
form.querySelector("button[type=submit]").disabled = false;

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  problem.hidden = true;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const data = await gql(LOGIN, {
      input: { email: form.email.value.trim(), password: form.password.value },
    });
    const payload = data.login;
    if (payload.errors.length) {
      say(payload.errors.map((error) => error.message).join(" "));
      const field = payload.errors[0].field;
      if (field && form[field]) form[field].setAttribute("aria-invalid", "true");
      return;
    }
    const next = params.get("next");
    location.assign(next ? safeNext(next) : homeFor(payload.viewer));
  } catch (error) {
    say(error instanceof ApiError ? error.message : "Signing in failed. Try again.");
  } finally {
    button.disabled = false;
  }
});

function say(text) {
  problem.textContent = text;
  problem.hidden = false;
  problem.focus();
}
