// Reports the browser's time zone while the account has none, so its dates can be shown in
// it (src/web/account/time_zone.rs). Without this script pages show UTC.
//
// Markup contract:
//   form[data-time-zone-report]   rendered only while the account has no zone: fields csrf and
//                                 time_zone; data-shown-zone, the zone the page's dates are in.
//
// The server saves the zone and answers its canonical name. When the page's dates were shown
// in another zone, the page loads again to show them in this one; that load finds the zone
// saved (or in its cookie), so it never loops.
"use strict";
(async () => {
  const form = document.querySelector("form[data-time-zone-report]");
  const zone = form && window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone) return;
  form.elements.time_zone.value = zone;
  try {
    const body = new URLSearchParams(new FormData(form));
    const response = await fetch(form.action, { method: "POST", body, credentials: "same-origin" });
    if (!response.ok) return;
    const saved = await response.text();
    if (saved !== form.dataset.shownZone) window.location.reload();
  } catch {
    // Offline or refused: the page keeps the zone it has.
  }
})();
