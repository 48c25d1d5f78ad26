// The safeguarding lead's alert feed: a live list by severity, resumable from its last cursor,
// with each alert's evidence, history and the learner's other alerts, and the triage actions.
import { ApiError, SessionEnded, gql, userErrors } from "./api.js";
import { announce, byId, dateTime, fill, h, timeTag } from "./dom.js";
import { LiveSocket, backoff } from "./live.js";
import { showFatal, showLiveState, startPage } from "./session.js";

const SUMMARY = `id cursor category severity status createdAt lastAt count excerpt
  learner { id givenName familyName preferredName yearGroup }
  assignee { id displayName }`;
const LIST = `query Alerts($after: String) {
  alerts(first: 50, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { ${SUMMARY} }
  }
  unread: alerts(first: 1, filter: {status: NEW}) { totalCount }
}`;
const FEED = `subscription Feed($after: String) {
  alertFeed(after: $after) { cursor alert { ${SUMMARY} } }
}`;
const DETAIL = `query Alert($id: ID!) {
  node(id: $id) {
    ... on Alert {
      ${SUMMARY}
      firstAt updatedAt ruleId source app url title screenshot inLesson outOfHours
      raisedBy { displayName }
      actions { kind fromStatus toStatus fromSeverity toSeverity note at actor { displayName } }
    }
  }
}`;
const LEARNER_ALERTS = `query LearnerAlerts($learnerId: ID!) {
  alerts(first: 20, filter: {learnerId: $learnerId}) { nodes { id category severity status lastAt } }
}`;
const LEADS = `query Leads { staff(first: 100) { nodes { id displayName roles isActive } } }`;
const ACK = `mutation Ack($id: ID!) {
  acknowledgeAlert(id: $id) { alert { ${SUMMARY} } errors { field code message } }
}`;
const UPDATE = `mutation Update($input: UpdateAlertInput!) {
  updateAlert(input: $input) { alert { ${SUMMARY} } errors { field code message } }
}`;

const OPEN = new Set(["NEW", "ACKNOWLEDGED", "ESCALATED"]);
const STATUS_LABELS = {
  NEW: "New",
  ACKNOWLEDGED: "Acknowledged",
  ESCALATED: "Escalated",
  RESOLVED: "Resolved",
  FALSE_POSITIVE: "False positive",
};
const BASE_TITLE = "Safeguarding alerts · Pupil Progress";

const state = {
  alerts: new Map(),
  selected: null,
  unread: 0,
  nextPage: null,
  leads: [],
  cursorKey: "",
  stopFeed: null,
  retries: 0,
};
const live = new LiveSocket({ onStatus: showLiveState });

const viewer = await startPage(["SAFEGUARDING_LEAD"]);
if (viewer) await init();

function label(category) {
  const text = category.replaceAll("_", " ").toLowerCase();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function learnerName(learner) {
  if (!learner) return "A learner who has left";
  return `${learner.preferredName || learner.givenName} ${learner.familyName}`;
}

async function init() {
  // One cursor per person and school: another lead on this computer resumes their own feed.
  state.cursorKey = `pp.alertFeed.${viewer.staffMember.id}`;
  byId("show").addEventListener("change", renderList);
  byId("filter-form").addEventListener("submit", (event) => event.preventDefault());
  byId("more").addEventListener("click", () => loadPage(state.nextPage));
  try {
    await loadPage(null);
    state.leads = (await gql(LEADS)).staff.nodes.filter(
      (member) => member.isActive && member.roles.includes("SAFEGUARDING_LEAD"),
    );
  } catch (error) {
    if (!(error instanceof SessionEnded)) showFatal(error);
    return;
  }
  follow();
  const wanted = new URLSearchParams(location.search).get("alert");
  if (wanted) select(wanted);
}

async function loadPage(after) {
  const data = await gql(LIST, { after });
  for (const alert of data.alerts.nodes) {
    if (!state.alerts.has(alert.id)) state.alerts.set(alert.id, alert);
  }
  state.nextPage = data.alerts.pageInfo.hasNextPage ? data.alerts.pageInfo.endCursor : null;
  byId("more").hidden = !state.nextPage;
  if (after === null) {
    state.unread = data.unread.totalCount;
    // A first visit starts the feed at the newest alert shown; later visits resume.
    const newest = data.alerts.nodes[0];
    if (!localStorage.getItem(state.cursorKey) && newest) remember(newest.cursor);
  }
  renderList();
}

function remember(cursor) {
  if (cursor) localStorage.setItem(state.cursorKey, cursor);
}

function follow() {
  state.stopFeed = live.subscribe({
    query: FEED,
    // Read at every (re)subscribe: a reconnect resumes after the last alert received.
    variables: () => ({ after: localStorage.getItem(state.cursorKey) }),
    next: (data) => {
      state.retries = 0;
      const event = data.alertFeed;
      receive(event.alert, true);
      remember(event.cursor);
    },
    error: (errors) => {
      const code = errors[0] && errors[0].extensions && errors[0].extensions.code;
      if (code === "FORBIDDEN") {
        announce("You no longer receive safeguarding alerts.", "error");
        return;
      }
      // The feed ended (live delivery interrupted, or a stale cursor): resume from the
      // last cursor after a pause, as the API asks.
      if (code === "INVALID_INPUT" || code === "BAD_USER_INPUT") localStorage.removeItem(state.cursorKey);
      const delay = backoff(state.retries++);
      showLiveState("reconnecting", `Alerts paused: retrying in ${Math.ceil(delay / 1000)} s`);
      setTimeout(follow, delay);
    },
  });
}

/** An alert from the feed or a mutation: new ones are announced, known ones updated. */
function receive(alert, fromFeed) {
  const before = state.alerts.get(alert.id);
  if (!before && alert.status === "NEW") state.unread += 1;
  if (before && before.status === "NEW" && alert.status !== "NEW") state.unread -= 1;
  if (before && before.status !== "NEW" && alert.status === "NEW") state.unread += 1;
  state.alerts.set(alert.id, { ...before, ...alert });
  renderList();
  if (fromFeed && !before) {
    announce(`New alert: ${label(alert.category)}, severity ${alert.severity}, ${learnerName(alert.learner)}.`);
  }
  if (state.selected === alert.id) renderDetailSummary(state.alerts.get(alert.id));
}

function sorted() {
  const showAll = byId("show").value === "all";
  return [...state.alerts.values()]
    .filter((alert) => showAll || OPEN.has(alert.status))
    .sort((a, b) => b.severity - a.severity || Date.parse(b.lastAt) - Date.parse(a.lastAt));
}

function renderList() {
  state.unread = Math.max(0, state.unread);
  document.title = state.unread ? `(${state.unread}) ${BASE_TITLE}` : BASE_TITLE;
  fill(byId("unread"), state.unread ? `${state.unread} new` : "");
  const items = sorted().map((alert) =>
    h(
      "li",
      { class: `alert-item${alert.status === "NEW" ? " unread" : ""}`, dataset: { severity: alert.severity, alertId: alert.id } },
      h(
        "button",
        {
          type: "button",
          "aria-current": state.selected === alert.id ? "true" : null,
          onclick: () => select(alert.id),
        },
        h("span", { class: `sev sev-${alert.severity}`, title: "Severity" }, `S${alert.severity}`),
        h("span", { class: "what" }, `${label(alert.category)} · ${learnerName(alert.learner)}`),
        h("span", { class: "alert-status" }, STATUS_LABELS[alert.status] || alert.status),
        h("span", { class: "excerpt" }, alert.excerpt || "No text captured"),
        h("span", { class: "when" }, timeTag(alert.lastAt), alert.count > 1 ? ` · ${alert.count} matches` : ""),
      ),
    ),
  );
  fill(byId("alert-list"), items.length ? items : h("li", {}, "No alerts to show."));
}

async function select(id) {
  state.selected = id;
  renderList();
  const url = new URL(location.href);
  url.searchParams.set("alert", id);
  history.replaceState(null, "", url);
  let alert;
  try {
    alert = (await gql(DETAIL, { id })).node;
  } catch (error) {
    if (!(error instanceof SessionEnded)) showFatal(error);
    return;
  }
  if (!alert || state.selected !== id) return;
  state.alerts.set(id, { ...state.alerts.get(id), ...alert });
  renderDetail(alert);
  // Focus moves to the detail for keyboard and screen-reader users; the page scrolls only as
  // far as needed to show it (not at all when list and detail sit side by side).
  const detail = byId("detail");
  detail.focus({ preventScroll: true });
  const top = detail.getBoundingClientRect().top;
  if (top < 0 || top > innerHeight * 0.8) detail.scrollIntoView({ block: "start" });
}

function renderDetailSummary(alert) {
  const status = document.getElementById("detail-status");
  if (status) status.textContent = STATUS_LABELS[alert.status] || alert.status;
}

function row(term, value) {
  return value === null || value === undefined || value === "" ? null : [h("dt", {}, term), h("dd", {}, value)];
}

function renderDetail(alert) {
  fill(byId("detail-title"), `${label(alert.category)}: ${learnerName(alert.learner)}`);
  const evidence = [
    h("h3", {}, "Evidence"),
    h("blockquote", { class: "evidence" }, alert.excerpt || "No text captured."),
    alert.screenshot
      ? h("img", { class: "thumb", src: `data:image/jpeg;base64,${alert.screenshot}`, alt: "Screenshot at the time of the alert" })
      : null,
  ];
  const facts = h(
    "dl",
    {},
    row("Severity", `${alert.severity} of 5`),
    [h("dt", {}, "Status"), h("dd", { id: "detail-status" }, STATUS_LABELS[alert.status] || alert.status)],
    row("Learner", alert.learner ? `${learnerName(alert.learner)}${alert.learner.yearGroup !== null ? `, Year ${alert.learner.yearGroup}` : ""}` : null),
    row("Raised", dateTime(alert.createdAt)),
    row("Matches", alert.count > 1 ? `${alert.count}, the last at ${dateTime(alert.lastAt)}` : null),
    row("Source", alert.raisedBy ? `Concern raised by ${alert.raisedBy.displayName}` : label(alert.source)),
    row("App", alert.app),
    row("Page", alert.title),
    row("Address", alert.url),
    row("When", [alert.inLesson ? "In a lesson" : "Not in a lesson", alert.outOfHours ? "out of hours" : "in school hours"].join(", ")),
    row("Assigned to", alert.assignee ? alert.assignee.displayName : "Nobody yet"),
  );
  fill(byId("detail-body"), facts, evidence, actions(alert), historySection(alert), h("div", { id: "learner-alerts" }));
  if (alert.learner) learnerAlerts(alert);
}

function actions(alert) {
  const note = h("textarea", { id: "note", name: "note", rows: 3, maxlength: 4000 });
  const assignee = h(
    "select",
    { id: "assignee", name: "assignee" },
    state.leads.map((lead) =>
      h("option", { value: lead.id, selected: alert.assignee && alert.assignee.id === lead.id }, lead.displayName),
    ),
  );
  const closed = !OPEN.has(alert.status);
  return h(
    "section",
    { "aria-labelledby": "actions-title" },
    h("h3", { id: "actions-title" }, "Actions"),
    alert.status === "NEW"
      ? h(
          "div",
          { class: "actions" },
          h("button", { type: "button", id: "acknowledge", onclick: () => acknowledge(alert.id) }, "Acknowledge"),
        )
      : null,
    h("label", { for: "assignee" }, "Assign to"),
    h(
      "div",
      { class: "actions" },
      assignee,
      h("button", { type: "button", class: "secondary", onclick: () => update(alert.id, { assigneeId: assignee.value }, "Assigned.") }, "Assign"),
    ),
    h("label", { for: "note" }, "Note (the reason, when resolving or marking a false positive)"),
    note,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "secondary", onclick: () => withNote(note, alert.id, {}, "Note added.") }, "Add note"),
      closed
        ? null
        : h("button", { type: "button", onclick: () => withNote(note, alert.id, { status: "RESOLVED" }, "Resolved.") }, "Resolve"),
      closed
        ? null
        : h(
            "button",
            { type: "button", class: "secondary", onclick: () => withNote(note, alert.id, { status: "FALSE_POSITIVE" }, "Marked as a false positive.") },
            "Mark false positive",
          ),
    ),
  );
}

function withNote(field, id, changes, done) {
  const note = field.value.trim();
  if (!note) {
    announce("Write the note first: it is kept on the alert's history.", "error");
    field.setAttribute("aria-invalid", "true");
    field.focus();
    return;
  }
  field.removeAttribute("aria-invalid");
  update(id, { ...changes, note }, done);
}

function historySection(alert) {
  const entries = (alert.actions || []).map((action) => {
    const parts = [label(action.kind)];
    if (action.kind === "STATUS_CHANGED" && action.toStatus) {
      parts.push(`to ${STATUS_LABELS[action.toStatus] || action.toStatus}`);
    }
    if (action.toSeverity) parts.push(`severity ${action.fromSeverity} → ${action.toSeverity}`);
    return h(
      "li",
      {},
      timeTag(action.at),
      ` · ${action.actor ? action.actor.displayName : "System"} · ${parts.join(" ")}`,
      action.note ? h("p", { class: "note" }, action.note) : null,
    );
  });
  return h(
    "section",
    { "aria-labelledby": "history-title" },
    h("h3", { id: "history-title" }, "History"),
    h("ol", { class: "chronology" }, entries.length ? entries : h("li", {}, "Nothing yet.")),
  );
}

async function learnerAlerts(alert) {
  let nodes;
  try {
    nodes = (await gql(LEARNER_ALERTS, { learnerId: alert.learner.id })).alerts.nodes;
  } catch (error) {
    if (!(error instanceof SessionEnded)) showFatal(error);
    return;
  }
  const target = document.getElementById("learner-alerts");
  if (!target || state.selected !== alert.id) return;
  fill(
    target,
    h("h3", {}, `Chronology: ${learnerName(alert.learner)}`),
    h(
      "ol",
      { class: "chronology" },
      nodes.map((other) =>
        h(
          "li",
          {},
          timeTag(other.lastAt),
          " · ",
          other.id === alert.id
            ? `${label(other.category)} (this alert)`
            : h("a", { href: `/alerts?alert=${encodeURIComponent(other.id)}` }, label(other.category)),
          ` · severity ${other.severity} · ${STATUS_LABELS[other.status] || other.status}`,
        ),
      ),
    ),
  );
}

async function acknowledge(id) {
  await change(ACK, { id }, "acknowledgeAlert", "Acknowledged.", id);
}

async function update(id, changes, done) {
  await change(UPDATE, { input: { id, ...changes } }, "updateAlert", done, id);
}

async function change(mutation, variables, key, done, id) {
  try {
    const payload = (await gql(mutation, variables))[key];
    const problem = userErrors(payload);
    if (problem) {
      announce(problem, "error");
      return;
    }
    receive(payload.alert, false);
    announce(done);
    await select(id);
  } catch (error) {
    if (!(error instanceof SessionEnded)) announce(error instanceof ApiError ? error.message : "That did not work.", "error");
  }
}
