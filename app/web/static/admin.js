// Admin basics: staff, learners, groups, devices and partner keys, with the admin mutations.
import { ApiError, SessionEnded, gql, userErrors } from "./api.js";
import { announce, byId, dateTime, fill, h } from "./dom.js";
import { startPage } from "./session.js";

const ROLES = ["ADMIN", "TEACHER", "SAFEGUARDING_LEAD", "LEADER"];
const PLATFORMS = ["CHROMEOS", "WINDOWS", "MACOS", "IPADOS", "LINUX", "ANDROID"];
const SCOPES = ["LEARNERS_READ", "LEARNER_IDENTIFIERS_READ", "GROUPS_READ"];

const SECTIONS = [
  { id: "staff", label: "Staff", render: staff },
  { id: "learners", label: "Learners", render: learners },
  { id: "groups", label: "Groups", render: groups },
  { id: "devices", label: "Devices", render: devices },
  { id: "keys", label: "API keys", render: apiKeys },
];

let loads = 0; // sections loaded so far: the latest one is shown

const viewer = await startPage(["ADMIN"]);
if (viewer) tabs();

function tabs() {
  let shown = -1; // the open section
  const list = byId("tabs");
  const panel = byId("panel");
  const buttons = SECTIONS.map((section, index) =>
    h(
      "button",
      {
        type: "button",
        role: "tab",
        id: `tab-${section.id}`,
        "aria-controls": "panel",
        onclick: () => select(index),
        onkeydown: (event) => {
          const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
          if (step) select((index + step + SECTIONS.length) % SECTIONS.length, true);
        },
      },
      section.label,
    ),
  );
  fill(list, buttons);
  const fromHash = () => Math.max(0, SECTIONS.findIndex((section) => `#${section.id}` === location.hash));
  window.addEventListener("hashchange", () => select(fromHash()));
  select(fromHash());

  function select(index, focus = false) {
    if (index === shown) {
      if (focus) buttons[index].focus();
      return; // already open: reloading would wipe what is being typed
    }
    shown = index;
    buttons.forEach((button, i) => {
      button.setAttribute("aria-selected", String(i === index));
      button.tabIndex = i === index ? 0 : -1;
    });
    if (focus) buttons[index].focus();
    const section = SECTIONS[index];
    panel.setAttribute("aria-labelledby", `tab-${section.id}`);
    history.replaceState(null, "", `#${section.id}`);
    load(section);
  }
}

async function load(section) {
  const panel = byId("panel");
  const mine = ++loads;
  fill(panel, h("p", {}, "Loading…"));
  // Rendered aside, then shown only if no later load began meanwhile (a second click on a
  // tab): an earlier answer arriving last must not replace a form someone is typing into.
  const draft = h("div");
  try {
    await section.render(draft);
  } catch (error) {
    if (error instanceof SessionEnded) return;
    fill(draft, h("p", { class: "problem" }, error instanceof ApiError ? error.message : "Loading failed."));
  }
  if (mine === loads) fill(panel, ...draft.childNodes);
}

function reload() {
  const current = SECTIONS.find((section) => `#${section.id}` === location.hash) || SECTIONS[0];
  return load(current);
}

/** Run a mutation from a form; say what happened; return the payload when it worked. */
async function submit(mutation, variables, key, done) {
  try {
    const payload = (await gql(mutation, variables))[key];
    const problem = userErrors(payload);
    if (problem) {
      announce(problem, "error");
      return null;
    }
    announce(done);
    return payload;
  } catch (error) {
    if (!(error instanceof SessionEnded)) {
      announce(error instanceof ApiError ? error.message : "That did not work.", "error");
    }
    return null;
  }
}

function field(label, input) {
  return h("div", { class: "field" }, h("label", { for: input.id }, label), input);
}

function checkboxes(name, values) {
  return h(
    "fieldset",
    {},
    h("legend", {}, name[0].toUpperCase() + name.slice(1)),
    values.map((value) =>
      h("label", { class: "choice" }, h("input", { type: "checkbox", name, value }), value.replaceAll("_", " ").toLowerCase()),
    ),
  );
}

function checked(form, name) {
  return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((input) => input.value);
}

function table(caption, headings, rows) {
  return h(
    "table",
    {},
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, headings.map((heading) => h("th", { scope: "col" }, heading)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: headings.length }, "None yet."))),
  );
}

function countLine(connection, noun) {
  const shown = connection.nodes.length;
  return h("p", {}, `${connection.totalCount} ${noun}${shown < connection.totalCount ? `, first ${shown} shown` : ""}.`);
}

/** A secret the server shows once: displayed with a warning until the section reloads. */
function showOnce(panel, what, secret) {
  const box = h(
    "div",
    { class: "secret-box", role: "alert" },
    h("p", {}, `${what}: copy it now, it is shown only this once.`),
    h("p", { class: "secret", id: "secret", tabindex: "-1" }, secret),
  );
  panel.prepend(box);
  byId("secret").focus();
}

async function staff(panel) {
  const data = await gql(`{ staff(first: 100) { totalCount nodes { id displayName email isActive roles } } }`);
  const form = h(
    "form",
    { "aria-label": "Add a member of staff" },
    field("Name", h("input", { id: "staff-name", name: "displayName", required: true, autocomplete: "off" })),
    field("Email", h("input", { id: "staff-email", name: "email", type: "email", required: true, autocomplete: "off" })),
    field("Password", h("input", { id: "staff-password", name: "password", type: "password", minlength: 12, required: true, autocomplete: "new-password" })),
    checkboxes("roles", ROLES),
    h("button", { type: "submit" }, "Add staff"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = {
      displayName: form.displayName.value.trim(),
      email: form.email.value.trim(),
      password: form.password.value,
      roles: checked(form, "roles"),
    };
    const mutation = `mutation($input: CreateStaffInput!) { createStaff(input: $input) { staffMember { id } errors { field code message } } }`;
    if (await submit(mutation, { input }, "createStaff", `Added ${input.displayName}.`)) reload();
  });
  const rows = data.staff.nodes.map((member) =>
    h(
      "tr",
      {},
      h("td", {}, member.displayName),
      h("td", {}, member.email),
      h("td", {}, member.roles.join(", ").replaceAll("_", " ").toLowerCase()),
      h("td", {}, member.isActive ? "Active" : "Deactivated"),
      h(
        "td",
        {},
        h(
          "button",
          {
            type: "button",
            class: "small secondary",
            "aria-label": `${member.isActive ? "Deactivate" : "Reactivate"} ${member.displayName}`,
            onclick: async () => {
              const mutation = `mutation($input: UpdateStaffInput!) { updateStaff(input: $input) { staffMember { id } errors { field code message } } }`;
              const input = { id: member.id, isActive: !member.isActive };
              if (await submit(mutation, { input }, "updateStaff", "Saved.")) reload();
            },
          },
          member.isActive ? "Deactivate" : "Reactivate",
        ),
      ),
    ),
  );
  fill(panel, h("h2", {}, "Staff"), form, countLine(data.staff, "staff"), table("Staff", ["Name", "Email", "Roles", "Status", ""], rows));
}

async function learners(panel) {
  const data = await gql(`{ learners(first: 100) { totalCount nodes { id givenName familyName yearGroup upn groups { name } } } }`);
  const form = h(
    "form",
    { "aria-label": "Add a learner" },
    field("Given name", h("input", { id: "learner-given", name: "givenName", required: true })),
    field("Family name", h("input", { id: "learner-family", name: "familyName", required: true })),
    field("Year group", h("input", { id: "learner-year", name: "yearGroup", type: "number", min: 0, max: 14 })),
    field("UPN (optional)", h("input", { id: "learner-upn", name: "upn", autocomplete: "off" })),
    h("button", { type: "submit" }, "Add learner"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = { givenName: form.givenName.value.trim(), familyName: form.familyName.value.trim() };
    if (form.yearGroup.value) input.yearGroup = Number(form.yearGroup.value);
    if (form.upn.value.trim()) input.upn = form.upn.value.trim();
    const mutation = `mutation($input: CreateLearnerInput!) { createLearner(input: $input) { learner { id } errors { field code message } } }`;
    if (await submit(mutation, { input }, "createLearner", `Added ${input.givenName} ${input.familyName}.`)) reload();
  });
  const rows = data.learners.nodes.map((learner) =>
    h(
      "tr",
      {},
      h("td", {}, `${learner.givenName} ${learner.familyName}`),
      h("td", {}, learner.yearGroup ?? "–"),
      h("td", {}, learner.upn || "–"),
      h("td", {}, learner.groups.map((group) => group.name).join(", ") || "–"),
    ),
  );
  fill(panel, h("h2", {}, "Learners"), form, countLine(data.learners, "learners"), table("Learners", ["Name", "Year", "UPN", "Groups"], rows));
}

async function groups(panel) {
  const data = await gql(`{ groups(first: 100) { totalCount nodes { id name subject yearGroup academicYear teachers { displayName } learners(first: 1) { totalCount } } } }`);
  const form = h(
    "form",
    { "aria-label": "Add a teaching group" },
    field("Name", h("input", { id: "group-name", name: "name", required: true, placeholder: "10X Maths" })),
    field("Subject", h("input", { id: "group-subject", name: "subject", required: true })),
    field("Academic year", h("input", { id: "group-year", name: "academicYear", required: true, value: "2026/27" })),
    field("Year group", h("input", { id: "group-year-group", name: "yearGroup", type: "number", min: 0, max: 14 })),
    h("button", { type: "submit" }, "Add group"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = { name: form.name.value.trim(), subject: form.subject.value.trim(), academicYear: form.academicYear.value.trim() };
    if (form.yearGroup.value) input.yearGroup = Number(form.yearGroup.value);
    const mutation = `mutation($input: CreateGroupInput!) { createGroup(input: $input) { group { id } errors { field code message } } }`;
    if (await submit(mutation, { input }, "createGroup", `Added ${input.name}.`)) reload();
  });
  const rows = data.groups.nodes.map((group) =>
    h(
      "tr",
      {},
      h("td", {}, group.name),
      h("td", {}, group.subject),
      h("td", {}, group.yearGroup ?? "–"),
      h("td", {}, group.academicYear),
      h("td", {}, group.teachers.map((teacher) => teacher.displayName).join(", ") || "–"),
      h("td", {}, group.learners.totalCount),
    ),
  );
  fill(panel, h("h2", {}, "Groups"), form, countLine(data.groups, "groups"), table("Groups", ["Name", "Subject", "Year", "Academic year", "Teachers", "Learners"], rows));
}

async function devices(panel) {
  const data = await gql(`{
    devices(first: 100) { totalCount nodes { id name platform enrolledAt lastSeenAt revoked tokenPrefix learner { givenName familyName } } }
    learners(first: 100) { nodes { id givenName familyName } }
  }`);
  const form = h(
    "form",
    { "aria-label": "Enrol a device" },
    field("Device name", h("input", { id: "device-name", name: "name", required: true })),
    field("Platform", h("select", { id: "device-platform", name: "platform" }, PLATFORMS.map((p) => h("option", { value: p }, p)))),
    field(
      "Learner",
      h(
        "select",
        { id: "device-learner", name: "learnerId" },
        h("option", { value: "" }, "Shared device"),
        data.learners.nodes.map((l) => h("option", { value: l.id }, `${l.familyName}, ${l.givenName}`)),
      ),
    ),
    h("button", { type: "submit" }, "Enrol device"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = { name: form.name.value.trim(), platform: form.platform.value };
    if (form.learnerId.value) input.learnerId = form.learnerId.value;
    const mutation = `mutation($input: EnrolDeviceInput!) { enrolDevice(input: $input) { token device { id } errors { field code message } } }`;
    const payload = await submit(mutation, { input }, "enrolDevice", `Enrolled ${input.name}.`);
    if (payload) {
      await load(SECTIONS[3]);
      showOnce(byId("panel"), `Token for ${input.name}`, payload.token);
    }
  });
  const rows = data.devices.nodes.map((device) =>
    h(
      "tr",
      {},
      h("td", {}, device.name),
      h("td", {}, device.platform),
      h("td", {}, device.learner ? `${device.learner.givenName} ${device.learner.familyName}` : "Shared"),
      h("td", {}, `${device.tokenPrefix}…`),
      h("td", {}, device.lastSeenAt ? dateTime(device.lastSeenAt) : "Never"),
      h(
        "td",
        {},
        device.revoked
          ? "Revoked"
          : h(
              "button",
              {
                type: "button",
                class: "small danger",
                "aria-label": `Revoke ${device.name}`,
                onclick: async () => {
                  const mutation = `mutation($id: ID!) { revokeDevice(id: $id) { device { id } errors { field code message } } }`;
                  if (await submit(mutation, { id: device.id }, "revokeDevice", `Revoked ${device.name}.`)) reload();
                },
              },
              "Revoke",
            ),
      ),
    ),
  );
  fill(panel, h("h2", {}, "Devices"), form, countLine(data.devices, "devices"), table("Devices", ["Name", "Platform", "Learner", "Token", "Last seen", ""], rows));
}

async function apiKeys(panel) {
  const data = await gql(`{ apiKeys(first: 100) { totalCount nodes { id name prefix scopes createdAt lastUsedAt revoked } } }`);
  const form = h(
    "form",
    { "aria-label": "Create a partner key" },
    field("Partner", h("input", { id: "key-name", name: "name", required: true })),
    checkboxes("scopes", SCOPES),
    h("button", { type: "submit" }, "Create key"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = { name: form.name.value.trim(), scopes: checked(form, "scopes") };
    const mutation = `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { key apiKey { id } errors { field code message } } }`;
    const payload = await submit(mutation, { input }, "createApiKey", `Created a key for ${input.name}.`);
    if (payload) {
      await load(SECTIONS[4]);
      showOnce(byId("panel"), `Key for ${input.name}`, payload.key);
    }
  });
  const rows = data.apiKeys.nodes.map((key) =>
    h(
      "tr",
      {},
      h("td", {}, key.name),
      h("td", {}, `${key.prefix}…`),
      h("td", {}, key.scopes.join(", ")),
      h("td", {}, dateTime(key.createdAt)),
      h("td", {}, key.lastUsedAt ? dateTime(key.lastUsedAt) : "Never"),
      h(
        "td",
        {},
        key.revoked
          ? "Revoked"
          : h(
              "button",
              {
                type: "button",
                class: "small danger",
                "aria-label": `Revoke the key for ${key.name}`,
                onclick: async () => {
                  const mutation = `mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id } errors { field code message } } }`;
                  if (await submit(mutation, { id: key.id }, "revokeApiKey", `Revoked the key for ${key.name}.`)) reload();
                },
              },
              "Revoke",
            ),
      ),
    ),
  );
  fill(panel, h("h2", {}, "API keys"), form, countLine(data.apiKeys, "keys"), table("API keys", ["Partner", "Key", "Scopes", "Created", "Last used", ""], rows));
}
