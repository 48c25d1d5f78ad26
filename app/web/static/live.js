// A small graphql-transport-ws client: one socket per page, subscriptions that survive
// reconnects, exponential backoff with jitter, and a heartbeat to notice a dead network.
import { sessionEnded } from "./api.js";

const PROTOCOL = "graphql-transport-ws";
/** Close codes after which the session is gone: sign in again rather than retry. */
const SESSION_GONE = new Set([4401, 4403]);
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 30000;
const PING_EVERY_MS = 15000;
const PONG_WITHIN_MS = 10000;

export function socketUrl(path = "/graphql") {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

/** Delay before retry number `attempt` (0-based): doubling, capped, with +-50% jitter so a
 * whole class of reconnecting browsers does not arrive at once. */
export function backoff(attempt, random = Math.random) {
  const base = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** attempt);
  return Math.round(base * (0.5 + random()));
}

export class LiveSocket {
  /**
   * @param {{onStatus?: (state: string, detail?: string) => void, url?: string}} options
   * States: "connecting", "live", "reconnecting", "stopped".
   */
  constructor({ onStatus = () => {}, url = socketUrl() } = {}) {
    this.url = url;
    this.onStatus = onStatus;
    this.subscriptions = new Map();
    this.nextKey = 1;
    this.attempt = 0;
    this.socket = null;
    this.acknowledged = false;
    this.stopped = false;
    this.timers = {};
    window.addEventListener("online", () => this.retryNow());
    window.addEventListener("pagehide", () => this.stop());
    // Back to a page kept in the back/forward cache: its subscriptions start again.
    window.addEventListener("pageshow", (event) => {
      if (event.persisted && this.stopped) {
        this.stopped = false;
        this.attempt = 0;
        this.connect();
      }
    });
  }

  /**
   * Keep a subscription running across reconnects.
   * `variables` may be a function, called at every (re)subscribe: a resumable feed passes its
   * latest cursor. `onStart` runs each time the subscription is (re)sent, so a page can
   * refresh a snapshot of what it may have missed while offline.
   * Returns a function that ends the subscription.
   */
  subscribe({ query, variables = {}, next, error = () => {}, onStart = () => {} }) {
    const key = String(this.nextKey++);
    const entry = { key, query, variables, next, error, onStart, active: false };
    this.subscriptions.set(key, entry);
    if (this.acknowledged) this.send_subscribe(entry);
    else this.connect();
    return () => {
      this.subscriptions.delete(key);
      if (entry.active && this.acknowledged) this.send({ type: "complete", id: key });
    };
  }

  connect() {
    if (this.stopped || this.socket) return;
    this.onStatus(this.attempt ? "reconnecting" : "connecting");
    const socket = new WebSocket(this.url, PROTOCOL);
    this.socket = socket;
    this.acknowledged = false;
    socket.addEventListener("open", () => {
      // The session cookie travels with the handshake; no token is ever held by this page.
      this.send({ type: "connection_init", payload: {} });
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", (event) => this.closed(socket, event));
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(message));
    }
  }

  send_subscribe(entry) {
    const variables = typeof entry.variables === "function" ? entry.variables() : entry.variables;
    entry.active = true;
    this.send({ type: "subscribe", id: entry.key, payload: { query: entry.query, variables } });
    entry.onStart();
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    this.alive();
    const entry = message.id ? this.subscriptions.get(message.id) : undefined;
    switch (message.type) {
      case "connection_ack":
        this.acknowledged = true;
        this.attempt = 0;
        this.onStatus("live");
        for (const sub of this.subscriptions.values()) this.send_subscribe(sub);
        this.heartbeat();
        break;
      case "ping":
        this.send({ type: "pong" });
        break;
      case "next":
        if (!entry) return;
        if (hasCode(message.payload.errors, "UNAUTHENTICATED")) sessionEnded("expired");
        if (message.payload.errors && !message.payload.data) {
          // The stream ends after this; its `complete` needs no second report.
          entry.failed = true;
          entry.error(message.payload.errors);
        } else entry.next(message.payload.data);
        break;
      case "error":
        if (!entry) return;
        entry.active = false;
        this.subscriptions.delete(message.id);
        if (hasCode(message.payload, "UNAUTHENTICATED")) sessionEnded("expired");
        entry.error(message.payload);
        break;
      case "complete":
        if (entry) {
          entry.active = false;
          this.subscriptions.delete(message.id);
          if (!entry.failed) entry.error([{ message: "The server ended this live view.", extensions: {} }]);
        }
        break;
      default:
        break;
    }
  }

  closed(socket, event) {
    if (socket !== this.socket) return;
    this.socket = null;
    this.acknowledged = false;
    this.clearTimers();
    for (const entry of this.subscriptions.values()) entry.active = false;
    if (SESSION_GONE.has(event.code)) {
      this.stopped = true;
      this.onStatus("stopped");
      sessionEnded("ended");
      return;
    }
    if (this.stopped) return;
    const delay = backoff(this.attempt);
    this.attempt += 1;
    this.onStatus("reconnecting", `Reconnecting in ${Math.ceil(delay / 1000)} s`);
    this.timers.retry = setTimeout(() => this.connect(), delay);
  }

  /** Reconnect at once (the network came back); the backoff starts over. */
  retryNow() {
    if (this.stopped || this.socket) return;
    clearTimeout(this.timers.retry);
    this.attempt = 0;
    this.connect();
  }

  /** A client ping every so often; no answer in time means the network is gone. */
  heartbeat() {
    clearInterval(this.timers.ping);
    this.timers.ping = setInterval(() => {
      this.send({ type: "ping" });
      clearTimeout(this.timers.pong);
      this.timers.pong = setTimeout(() => this.drop(), PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  alive() {
    clearTimeout(this.timers.pong);
  }

  /** Give up on the current socket and let the backoff reconnect. */
  drop() {
    const socket = this.socket;
    if (!socket) return;
    this.closed(socket, { code: 1006 });
    socket.close();
  }

  clearTimers() {
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.pong);
    clearTimeout(this.timers.retry);
  }

  stop() {
    this.stopped = true;
    this.clearTimers();
    if (this.socket) this.socket.close(1000, "Page closed");
    this.socket = null;
  }
}

function hasCode(errors, code) {
  return (errors || []).some((error) => error.extensions && error.extensions.code === code);
}
