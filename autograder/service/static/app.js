// Live status of the submissions being graded: asks the API each second (with the session
// cookie), shows the place in the queue, and reloads the page once the report is ready.
"use strict";

function describe(submission) {
  if (submission.status === "queued") {
    return submission.position ? `Queued: number ${submission.position} in the queue.` : "Queued.";
  }
  if (submission.status === "running") {
    return "Running your notebook…";
  }
  return "Graded.";
}

async function follow(element) {
  const id = element.dataset.live;
  const status = element.querySelector(".status");
  for (;;) {
    try {
      const response = await fetch(`/api/submissions/${encodeURIComponent(id)}`,
                                   {credentials: "same-origin", headers: {Accept: "application/json"}});
      if (response.ok) {
        const submission = await response.json();
        status.textContent = describe(submission);
        if (submission.status === "graded" || submission.status === "not-graded") {
          window.location.reload();
          return;
        }
      }
    } catch (error) {
      status.textContent = "Waiting for the server…";
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

// The instructor's class, live: every few seconds the page is fetched again and only the
// parts without forms (#live) are replaced, so nothing typed into a form is lost. The HTML is
// the server's own page, drawn with every student string escaped.
async function refresh(element) {
  const every = 5000;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, every));
    if (document.hidden) {
      continue;
    }
    try {
      const response = await fetch(element.dataset.refresh, {credentials: "same-origin"});
      if (!response.ok) {
        continue;
      }
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById(element.id);
      if (fresh) {
        element.replaceChildren(...fresh.childNodes);
        element.dataset.refreshed = String(Date.now());
      }
    } catch (error) {
      // the server is restarting: try again at the next turn
    }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-live]").forEach((element) => follow(element));
  document.querySelectorAll("[data-refresh]").forEach((element) => refresh(element));
});
