// The live classroom: one tile per learner, kept current by classroomActivity.
import { ApiError, SessionEnded, gql, userErrors } from "./api.js";
import { announce, byId, fill, h, lines, time } from "./dom.js";
import { LiveSocket } from "./live.js";
import { showFatal, showLiveState, startPage } from "./session.js";

const GROUPS = `query Groups { groups(first: 100) { nodes { id name subject } } }`;
const CLASSROOM = `query Classroom($groupId: ID!) {
  classroom(groupId: $groupId) {
    group { id name }
    lesson { id mode endsAt endedAt allow { domains apps } block { domains apps } }
    tiles {
      learner { id givenName familyName preferredName }
      device { id name }
      online idle locked app url title thumbnail blockedAttempts lastBlocked lastSeenAt
    }
  }
}`;
const ACTIVITY = `subscription Activity($groupId: ID!) {
  classroomActivity(groupId: $groupId) {
    deviceId kind at online idle locked app url title blocked reason thumbnail
  }
}`;
const COMMAND = `mutation Command($input: SendDeviceCommandInput!) {
  sendDeviceCommand(input: $input) { commands { id } errors { field code message } }
}`;
const START = `mutation Start($input: StartLessonInput!) {
  startLesson(input: $input) { lesson { id } errors { field code message } }
}`;
const END = `mutation End($id: ID!) {
  endLesson(id: $id) { lesson { id } errors { field code message } }
}`;

const state = { groupId: null, tiles: new Map(), lesson: null, stopLive: null };
const live = new LiveSocket({ onStatus: showLiveState });

const viewer = await startPage(["TEACHER", "ADMIN", "LEADER"]);
if (viewer) await init();

async function init() {
  const select = byId("group");
  let groups;
  try {
    groups = (await gql(GROUPS)).groups.nodes;
  } catch (error) {
    if (!(error instanceof SessionEnded)) showFatal(error);
    return;
  }
  if (!groups.length) {
    fill(byId("summary"), "You have no teaching groups yet.");
    return;
  }
  fill(
    select,
    h("option", { value: "" }, "Choose a group"),
    groups.map((group) => h("option", { value: group.id }, group.name)),
  );
  select.addEventListener("change", () => choose(select.value));
  byId("group-form").addEventListener("submit", (event) => event.preventDefault());
  wireControls();
  const wanted = new URLSearchParams(location.search).get("group");
  const first = groups.find((group) => group.id === wanted) || (groups.length === 1 ? groups[0] : null);
  if (first) {
    select.value = first.id;
    await choose(first.id);
  }
}

async function choose(groupId) {
  if (state.stopLive) state.stopLive();
  state.stopLive = null;
  state.groupId = groupId || null;
  state.tiles.clear();
  fill(byId("tiles"));
  const url = new URL(location.href);
  if (groupId) url.searchParams.set("group", groupId);
  else url.searchParams.delete("group");
  history.replaceState(null, "", url);
  byId("controls").hidden = byId("lesson").hidden = !groupId;
  if (!groupId) {
    fill(byId("summary"));
    return;
  }
  // Subscribe first, then read the snapshot (again after every reconnect): nothing a
  // dropped connection missed stays on screen.
  state.stopLive = live.subscribe({
    query: ACTIVITY,
    variables: { groupId },
    next: (data) => applyActivity(data.classroomActivity),
    error: (errors) => announce(errors[0] ? errors[0].message : "The live view stopped.", "error"),
    onStart: () => refresh(groupId),
  });
}

async function refresh(groupId) {
  let classroom;
  try {
    classroom = (await gql(CLASSROOM, { groupId })).classroom;
  } catch (error) {
    if (!(error instanceof SessionEnded)) showFatal(error);
    return;
  }
  if (state.groupId !== groupId) return;
  document.title = `${classroom.group.name} · Live classroom · Pupil Progress`;
  fill(byId("title"), `Live classroom: ${classroom.group.name}`);
  state.lesson = classroom.lesson && !classroom.lesson.endedAt ? classroom.lesson : null;
  renderLesson();
  const list = byId("tiles");
  const seen = new Set();
  for (const tile of classroom.tiles) {
    const key = tile.device ? tile.device.id : `learner:${tile.learner.id}`;
    seen.add(key);
    let entry = state.tiles.get(key);
    if (!entry) {
      entry = { key, node: h("li", { class: "tile" }) };
      state.tiles.set(key, entry);
      list.append(entry.node);
    }
    entry.data = { ...tile };
    renderTile(entry);
  }
  for (const [key, entry] of state.tiles) {
    if (!seen.has(key)) {
      entry.node.remove();
      state.tiles.delete(key);
    }
  }
  renderSummary();
}

function applyActivity(event) {
  // How many live changes arrived: shows (and lets a test see) that the stream is flowing.
  const list = byId("tiles");
  list.dataset.events = String(Number(list.dataset.events || 0) + 1);
  const entry = state.tiles.get(event.deviceId);
  if (!entry) return;
  const tile = entry.data;
  tile.online = event.online;
  tile.idle = event.idle;
  tile.lastSeenAt = event.at;
  if (event.locked !== null) tile.locked = event.locked;
  if (event.kind !== "LOCK" && event.kind !== "UNLOCK") {
    if (event.app !== null) tile.app = event.app;
    if (event.url !== null) tile.url = event.url;
    if (event.title !== null) tile.title = event.title;
  }
  if (event.thumbnail) tile.thumbnail = event.thumbnail;
  if (event.blocked) {
    tile.blockedAttempts += 1;
    tile.lastBlocked = event.reason;
  }
  renderTile(entry);
  renderSummary();
}

function status(tile) {
  if (tile.locked) return "locked";
  if (!tile.device || !tile.online) return "offline";
  return tile.idle ? "idle" : "online";
}

const LABELS = { locked: "Locked", offline: "Offline", idle: "Idle", online: "Online" };

function learnerName(learner) {
  return `${learner.preferredName || learner.givenName} ${learner.familyName}`;
}

function renderTile(entry) {
  const tile = entry.data;
  const name = learnerName(tile.learner);
  const now = status(tile);
  entry.node.dataset.state = now;
  entry.node.dataset.deviceId = tile.device ? tile.device.id : "";
  entry.node.setAttribute("aria-label", `${name}: ${LABELS[now]}`);
  const picture = tile.thumbnail
    ? h("img", { class: "thumb", src: `data:image/jpeg;base64,${tile.thumbnail}`, alt: `Screen of ${name}` })
    : h("div", { class: "thumb empty", role: "img", "aria-label": `No screen picture of ${name}` });
  const toggle = tile.device
    ? h(
        "button",
        {
          type: "button",
          class: "small secondary",
          "aria-label": `${tile.locked ? "Unlock" : "Lock"} ${name}'s screen`,
          onclick: () => command(tile.locked ? "UNLOCK" : "LOCK", { deviceIds: [tile.device.id] }),
        },
        tile.locked ? "Unlock" : "Lock",
      )
    : null;
  fill(
    entry.node,
    h("div", { class: "tile-head" }, h("h3", {}, name), h("span", { class: `badge ${now}` }, LABELS[now])),
    picture,
    h(
      "dl",
      {},
      h("dt", {}, "App"),
      h("dd", { class: "app" }, tile.app || "–"),
      h("dt", {}, "Page"),
      h("dd", { class: "page-title", title: tile.url || "" }, tile.title || tile.url || "–"),
      h("dt", {}, "Blocked"),
      h(
        "dd",
        { class: tile.blockedAttempts ? "blocked warn" : "blocked" },
        tile.blockedAttempts ? `${tile.blockedAttempts} (${tile.lastBlocked || "rule"})` : "0",
      ),
    ),
    h(
      "div",
      { class: "tile-foot" },
      h("span", { class: "seen" }, tile.lastSeenAt ? `Seen ${time(tile.lastSeenAt)}` : "Not seen yet"),
      toggle,
    ),
  );
}

function renderSummary() {
  const counts = { online: 0, idle: 0, locked: 0, offline: 0 };
  let blocked = 0;
  for (const entry of state.tiles.values()) {
    counts[status(entry.data)] += 1;
    blocked += entry.data.blockedAttempts;
  }
  fill(
    byId("summary"),
    `${state.tiles.size} learners: ${counts.online} online, ${counts.idle} idle, ` +
      `${counts.locked} locked, ${counts.offline} offline; ${blocked} blocked attempts.`,
  );
}

function renderLesson() {
  const lesson = state.lesson;
  const form = byId("lesson-form");
  const end = byId("end-lesson");
  byId("lesson-new").hidden = Boolean(lesson);
  end.hidden = !lesson;
  if (!lesson) {
    fill(byId("lesson-state"), "No lesson is running: the school's rules apply.");
    const soon = new Date(Date.now() + 50 * 60 * 1000);
    if (!form.end.value) form.end.value = soon.toTimeString().slice(0, 5);
    return;
  }
  const rules = lesson.mode === "ALLOW_ONLY" ? lesson.allow : lesson.block;
  const listed = [...rules.domains, ...rules.apps];
  fill(
    byId("lesson-state"),
    `${lesson.mode === "ALLOW_ONLY" ? "Focus mode" : "Block list"} until ${time(lesson.endsAt)}` +
      (listed.length ? `: ${listed.join(", ")}` : "."),
  );
}

async function command(kind, target, extra = {}) {
  const input = { kind, ...target, ...extra };
  try {
    const payload = (await gql(COMMAND, { input })).sendDeviceCommand;
    const problem = userErrors(payload);
    if (problem) {
      announce(problem, "error");
      return false;
    }
    const count = payload.commands.length;
    const verbs = { LOCK: "Locked", UNLOCK: "Unlocked", OPEN_URL: "Opened the page on", MESSAGE: "Sent the message to" };
    announce(`${verbs[kind] || "Sent to"} ${count} device${count === 1 ? "" : "s"}.`);
    return true;
  } catch (error) {
    if (!(error instanceof SessionEnded)) announce(messageOf(error), "error");
    return false;
  }
}

function messageOf(error) {
  return error instanceof ApiError ? error.message : "That did not work. Try again.";
}

function wireControls() {
  byId("lock-all").addEventListener("click", () => command("LOCK", { groupId: state.groupId }));
  byId("unlock-all").addEventListener("click", () => command("UNLOCK", { groupId: state.groupId }));
  byId("open-url-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const field = event.target.url;
    if (await command("OPEN_URL", { groupId: state.groupId }, { url: field.value.trim() })) field.value = "";
  });
  byId("message-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const field = event.target.message;
    if (await command("MESSAGE", { groupId: state.groupId }, { message: field.value.trim() })) field.value = "";
  });
  byId("lesson-form").addEventListener("submit", startLesson);
  byId("end-lesson").addEventListener("click", endLesson);
}

function endsAt(hhmm) {
  const [hours, minutes] = hhmm.split(":").map(Number);
  const end = new Date();
  end.setHours(hours, minutes, 0, 0);
  if (end <= new Date()) end.setDate(end.getDate() + 1);
  return end.toISOString();
}

async function startLesson(event) {
  event.preventDefault();
  const form = event.target;
  const mode = form.mode.value;
  const sites = lines(form.sites.value);
  const apps = lines(form.apps.value);
  const input = { groupId: state.groupId, endsAt: endsAt(form.end.value), mode };
  if (mode === "ALLOW_ONLY") Object.assign(input, { allowDomains: sites, allowApps: apps });
  else Object.assign(input, { blockDomains: sites, blockApps: apps });
  try {
    const payload = (await gql(START, { input })).startLesson;
    const problem = userErrors(payload);
    if (problem) {
      announce(problem, "error");
      return;
    }
    byId("lesson-new").open = false;
    announce("Lesson started: the devices follow its rules now.");
    await refresh(state.groupId);
  } catch (error) {
    if (!(error instanceof SessionEnded)) announce(messageOf(error), "error");
  }
}

async function endLesson() {
  if (!state.lesson) return;
  try {
    const payload = (await gql(END, { id: state.lesson.id })).endLesson;
    const problem = userErrors(payload);
    if (problem) {
      announce(problem, "error");
      return;
    }
    announce("Lesson ended.");
    await refresh(state.groupId);
  } catch (error) {
    if (!(error instanceof SessionEnded)) announce(messageOf(error), "error");
  }
}
