// `/`: send the visitor to the dashboard for their role, or to sign in.
import { SessionEnded } from "./api.js";
import { homeFor, loadViewer, showFatal } from "./session.js";

try {
  const viewer = await loadViewer();
  location.replace(viewer && viewer.staffMember ? homeFor(viewer) : "/login");
} catch (error) {
  if (!(error instanceof SessionEnded)) showFatal(error);
}
