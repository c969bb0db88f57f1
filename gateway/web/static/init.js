// Starts GOV.UK Frontend's components and the idle-timeout warning. Served by the node
// itself and loaded as a module: the CSP allows scripts from 'self' only, nothing inline.
// Every page works without it.
import { initAll } from "./govuk-frontend.min.js";

// What the stock GOV.UK template does with an inline script.
document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();

// WCAG 2.2.1: warn before the idle timeout signs the person out, and let them extend it.
const WARN_BEFORE_SECONDS = 120;

function startIdleWarning() {
  const notice = document.getElementById("session-end");
  const dialog = document.getElementById("idle-warning");
  const stay = document.getElementById("stay-signed-in");
  const token = document.querySelector('meta[name="csrf-token"]');
  if (!notice || !dialog || !stay || !token || typeof dialog.showModal !== "function") {
    return;
  }
  let timers = [];

  function schedule(secondsLeft) {
    timers.forEach(clearTimeout);
    const warnIn = Math.max(0, secondsLeft - Math.min(WARN_BEFORE_SECONDS, secondsLeft / 2));
    timers = [
      setTimeout(() => {
        if (!dialog.open) dialog.showModal();
      }, warnIn * 1000),
      setTimeout(() => {
        window.location.assign(notice.dataset.signedOutUrl);
      }, secondsLeft * 1000),
    ];
  }

  stay.addEventListener("click", async () => {
    const answer = await fetch(notice.dataset.keepAliveUrl, {
      method: "POST",
      headers: { "X-CSRF-Token": token.content, Accept: "application/json" },
      credentials: "same-origin",
    });
    if (!answer.ok) {
      window.location.assign(notice.dataset.signedOutUrl);
      return;
    }
    const session = await answer.json();
    document.querySelectorAll(".app-session-end-time").forEach((element) => {
      element.textContent = session.ends_at;
    });
    dialog.close();
    schedule(session.seconds_left);
  });

  schedule(Number(notice.dataset.secondsLeft));
}

startIdleWarning();
