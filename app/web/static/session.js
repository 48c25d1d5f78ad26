// What every signed-in page shares: who is signed in, the navigation, sign out, live status.
import { ApiError, SessionEnded, gql, sessionEnded, signingOut } from "./api.js";
import { announce, byId, fill, h } from "./dom.js";

const VIEWER = `query Viewer {
  viewer { roles staffMember { id displayName email } school { name } }
}`;

const LINKS = [
  { href: "/classroom", label: "Live classroom", roles: ["TEACHER", "ADMIN", "LEADER"] },
  { href: "/alerts", label: "Safeguarding alerts", roles: ["SAFEGUARDING_LEAD"] },
  { href: "/admin", label: "Admin", roles: ["ADMIN"] },
];

export function hasRole(viewer, roles) {
  return viewer.roles.some((role) => roles.includes(role));
}

/** The page the viewer lands on after signing in. */
export function homeFor(viewer) {
  if (viewer.roles.includes("SAFEGUARDING_LEAD")) return "/alerts";
  if (viewer.roles.includes("TEACHER")) return "/classroom";
  if (viewer.roles.includes("ADMIN")) return "/admin";
  return "/classroom";
}

export async function loadViewer() {
  const data = await gql(VIEWER);
  return data.viewer;
}

/**
 * Start a signed-in page: anonymous visitors go to sign in; the bar shows the school, the
 * person, the pages their roles open, and a sign-out button. Returns the viewer, or null when
 * the page is not for their roles (a message says so).
 */
export async function startPage(roles) {
  let viewer;
  try {
    viewer = await loadViewer();
  } catch (error) {
    if (!(error instanceof SessionEnded)) showFatal(error);
    return null;
  }
  if (!viewer || !viewer.staffMember) {
    sessionEnded("signin");
    return null;
  }
  renderBar(viewer);
  if (roles && !hasRole(viewer, roles)) {
    fill(
      byId("main"),
      h("h1", {}, "Not available"),
      h("p", {}, "This page is for other roles. Use the links above."),
    );
    return null;
  }
  return viewer;
}

function renderBar(viewer) {
  const here = location.pathname;
  const links = LINKS.filter((link) => hasRole(viewer, link.roles)).map((link) =>
    h("li", {}, h("a", { href: link.href, "aria-current": link.href === here ? "page" : null }, link.label)),
  );
  fill(
    byId("bar"),
    h("a", { class: "brand", href: "/" }, "Pupil Progress"),
    h("nav", { "aria-label": "Dashboards" }, h("ul", {}, links)),
    h(
      "div",
      { class: "who" },
      h("span", { id: "live-state", class: "live-state", dataset: { state: "idle" } }),
      h("span", { class: "person" }, `${viewer.staffMember.displayName} · ${viewer.school.name}`),
      h("button", { type: "button", id: "logout", class: "secondary", onclick: logout }, "Sign out"),
    ),
  );
}

async function logout() {
  signingOut();
  try {
    await gql("mutation Logout { logout }");
  } catch (error) {
    if (error instanceof SessionEnded) return;
  }
  location.assign("/login?reason=signedout");
}

const STATES = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  stopped: "Offline",
};

/** The live indicator in the bar; a LiveSocket's onStatus. */
export function showLiveState(state, detail) {
  const node = document.getElementById("live-state");
  if (!node) return;
  node.dataset.state = state;
  node.textContent = detail || STATES[state] || state;
}

export function showFatal(error) {
  const message = error instanceof ApiError ? error.message : "Something went wrong. Reload the page.";
  announce(message, "error");
}
