// Ask for a reset link, or choose a password with the token of an invitation or reset link.
import { ApiError, gql } from "./api.js";
import { byId } from "./dom.js";

const REQUEST_RESET = `mutation Reset($input: RequestPasswordResetInput!) {
  requestPasswordReset(input: $input) { ok errors { field code message } }
}`;

const SET_PASSWORD = `mutation SetPassword($input: SetPasswordInput!) {
  setPassword(input: $input) { ok errors { field code message } }
}`;

const notice = byId("notice");
const problem = byId("problem");
const resetForm = byId("reset-form");
const passwordForm = byId("password-form");

// The token travels in the fragment, which the browser never sends to a server. Take it out of
// the address bar at once, so it is not left in the history or shown over a shoulder.
const token = new URLSearchParams(location.hash.slice(1)).get("token");
if (token) {
  history.replaceState(null, "", location.pathname);
  byId("page-title").textContent = "Choose your password";
  resetForm.hidden = true;
  passwordForm.hidden = false;
  byId("password").focus();
}

for (const form of [resetForm, passwordForm]) {
  // Buttons stay disabled until this script runs, so a form is never sent natively.
  form.querySelector("button[type=submit]").disabled = false;
}

resetForm.addEventListener("submit", (event) =>
  submit(event, resetForm, async () => {
    const data = await gql(REQUEST_RESET, { input: { email: resetForm.email.value.trim() } });
    if (!failed(data.requestPasswordReset)) {
      resetForm.hidden = true;
      say(notice, "If an account has this address, a link is on its way. It works once, within the hour.");
    }
  }),
);

passwordForm.addEventListener("submit", (event) =>
  submit(event, passwordForm, async () => {
    if (passwordForm.password.value !== passwordForm.confirm.value) {
      passwordForm.confirm.setAttribute("aria-invalid", "true");
      say(problem, "The two passwords differ.");
      return;
    }
    const input = { token, password: passwordForm.password.value };
    const data = await gql(SET_PASSWORD, { input });
    if (!failed(data.setPassword)) {
      passwordForm.hidden = true;
      say(notice, "Your password is set, and any other sign-ins have ended. You can sign in now.");
    }
  }),
);

async function submit(event, form, action) {
  event.preventDefault();
  problem.hidden = true;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await action();
  } catch (error) {
    say(problem, error instanceof ApiError ? error.message : "That did not work. Try again.");
  } finally {
    button.disabled = false;
  }
}

function failed(payload) {
  if (!payload.errors.length) return false;
  say(problem, payload.errors.map((error) => error.message).join(" "));
  return true;
}

function say(element, text) {
  element.textContent = text;
  element.hidden = false;
  element.focus();
}
