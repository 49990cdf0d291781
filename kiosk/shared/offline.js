// A page's offline copy: its service worker and the files it caches. The install fetches every file at once;
// on a bad network one may fail, which throws the whole install away. Until the page is controlled, a
// failed registration or install is tried again, waiting longer each time (5 s, doubling to 1 min).
export function keepOfflineCopy(script, options = {}, waitMs = 5000) {
  if (!("serviceWorker" in navigator)) return;
  const again = () => {
    if (navigator.serviceWorker.controller) return;
    setTimeout(() => keepOfflineCopy(script, options, Math.min(waitMs * 2, 60000)), waitMs);
  };
  navigator.serviceWorker.register(script, options).then((registration) => {
    const worker = registration.installing;
    if (worker) worker.addEventListener("statechange", () => { if (worker.state === "redundant") again(); });
  }, (err) => {
    console.warn("no offline copy yet", err);
    again();
  });
}
