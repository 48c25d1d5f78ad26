// Subscribe to classroomActivity with the reference graphql-transport-ws client (graphql-ws).
//
//   node subscribe.mjs <ws-url> <token> <groupId> <count>
//
// Prints each received payload (an ExecutionResult) as one JSON line on stdout, and progress on
// stderr ("connected" once acknowledged). Exits 0 after <count> events; 1 on an error, a close,
// an early complete, or after SUBSCRIBE_TIMEOUT_MS (default 20000) without enough events.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const QUERY = `
subscription Live($groupId: ID!) {
  classroomActivity(groupId: $groupId) { kind url blocked learnerId deviceId at }
}`;

const [url, token, groupId, countText] = process.argv.slice(2);
const expected = Number.parseInt(countText ?? "", 10);
const timeoutMs = Number.parseInt(process.env.SUBSCRIBE_TIMEOUT_MS ?? "20000", 10);
if (!url || !token || !groupId || !(expected > 0) || !(timeoutMs > 0)) {
  console.error("usage: node subscribe.mjs <ws-url> <token> <groupId> <count>");
  process.exit(2);
}

function describe(error) {
  if (Array.isArray(error)) return `GraphQL errors: ${JSON.stringify(error)}`;
  if (error && typeof error === "object" && "code" in error) {
    return `socket closed: ${error.code} ${error.reason ?? ""}`.trim();
  }
  return `error: ${error instanceof Error ? error.message : String(error)}`;
}

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { authToken: token },
  // Fail loudly: a test wants the first failure, not five silent reconnects.
  retryAttempts: 0,
  shouldRetry: () => false,
  on: { connected: () => console.error("connected") },
});

let received = 0;
let finished = false;
let unsubscribe = () => {};

async function finish(code, message) {
  if (finished) return;
  finished = true;
  clearTimeout(timer);
  if (message) console.error(message);
  unsubscribe();
  await client.dispose();
  process.exit(code);
}

const timer = setTimeout(
  () => finish(1, `timed out after ${timeoutMs} ms with ${received} of ${expected} events`),
  timeoutMs,
);

unsubscribe = client.subscribe(
  { query: QUERY, variables: { groupId } },
  {
    next: (payload) => {
      process.stdout.write(`${JSON.stringify(payload)}\n`);
      if (payload.errors) {
        finish(1, describe(payload.errors));
        return;
      }
      received += 1;
      if (received >= expected) finish(0);
    },
    error: (error) => finish(1, describe(error)),
    complete: () => finish(1, `the server completed after ${received} of ${expected} events`),
  },
);
