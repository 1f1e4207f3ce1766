// Drives the engine's web dashboard as a user would, in jsdom (a DOM in
// Node; it runs the page's own script, fetched from the engine), against a
// real running engine. Called by tests/dashboard.rs:
//
//   node drive.mjs BASE_URL ADMIN_TOKEN PLUGIN.wasm
//
// The engine has a channel `test` whose first two ADT messages (control IDs
// DASH1 and DASH2) are in the dead-letter queue and whose destination
// accepts again; an ORU before them (WAIT1) waits for a second destination,
// `down`, which cannot be reached. The page reprocesses DASH1's dead letter, then the message
// itself, and purges DASH2's: DASH1 reaches the destination twice, DASH2
// never. The script
// prints one line per step and exits 1 at the first step that fails.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { JSDOM, VirtualConsole } from "jsdom";

const [base, token, pluginPath] = process.argv.slice(2);
const PATIENCE_MS = 20000;

const console_ = new VirtualConsole();
const pageErrors = [];
console_.on("jsdomError", (error) => pageErrors.push(error.message));

const dom = await JSDOM.fromURL(`${base}/`, {
  runScripts: "dangerously",
  resources: "usable",
  pretendToBeVisual: true,
  virtualConsole: console_,
  beforeParse(window) {
    // jsdom has no fetch: lend it Node's, resolving paths against the page.
    window.fetch = (url, options) => fetch(new URL(url, window.location.href), options);
    window.confirm = () => true;
  },
});
const { window } = dom;
const { document } = window;

function fail(message) {
  const notice = document.getElementById("notice");
  console.log(`FAIL ${message}`);
  console.log(`  notice: ${notice && !notice.hidden ? notice.textContent : "(none)"}`);
  console.log(`  view: ${document.getElementById("view")?.textContent.slice(0, 2000)}`);
  if (pageErrors.length) console.log(`  page errors: ${pageErrors.join(" | ")}`);
  window.close();
  process.exit(1);
}

/** Polls until `probe` returns a truthy value, and returns it. */
async function until(what, probe) {
  const deadline = Date.now() + PATIENCE_MS;
  for (;;) {
    const found = probe();
    if (found) return found;
    if (Date.now() > deadline) fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const $ = (selector) => document.querySelector(selector);
const noticeSays = (text) => () => !$("#notice").hidden && $("#notice").textContent.includes(text);
function click(selector) {
  const target = $(selector);
  if (!target) fail(`nothing to click at ${selector}`);
  target.click();
}
function go(hash, view) {
  window.location.hash = hash;
  return until(`the ${view} view`, () => $(`#view[data-view="${view}"]`) && $("#view").dataset.refreshed);
}
function step(text) {
  console.log(`ok ${text}`);
}

// 1. The page loads from `/`, and without a token the API's 401 is shown.
if (window.location.pathname !== "/dashboard/") fail(`landed on ${window.location.pathname}`);
await until("the page's script to run", () => $("#view").dataset.view === "channels");
await until("the 401 notice", noticeSays("The API wants a token"));
step("the page asks for a token");

// 2. With the token, the channel's row shows its state and counters.
$("#token").value = token;
$("#token-form").dispatchEvent(new window.Event("submit", { cancelable: true }));
const row = await until("the channel's row", () => $('tr[data-channel="test"]'));
if (window.sessionStorage.getItem("hl7wasm.token") !== token) fail("the token is not kept for the tab");
await until("two dead letters in the row", () => $('tr[data-channel="test"] .dead-letters')?.textContent === "2");
if (!row.querySelector(".state").textContent.includes("running")) fail("the channel is not shown running");
step("the channel is listed with its dead letters");
const alertsLink = () => $('header nav a[href="#alerts"]');
await until("the alert count on the Alerts link", () => alertsLink().textContent === "Alerts (1)");
if (!alertsLink().classList.contains("alarm")) fail("the Alerts link is not marked");
step("two dead letters over the threshold of one show as an alert in the navigation");

// 3. Pause and resume the channel from its row.
click('tr[data-channel="test"] button[data-action="pause"]');
await until("the paused state", () => $('tr[data-channel="test"] .state')?.textContent === "paused");
await until("the pause notice", noticeSays("Channel test is paused."));
click('tr[data-channel="test"] button[data-action="resume"]');
await until("the running state", () => $('tr[data-channel="test"] .state')?.textContent === "running");
step("the channel was paused and resumed");

// 4. The dead letters are listed, a payload is shown to the admin, DASH1's
//    is reprocessed and DASH2's purged.
await go("#dead-letters", "dead-letters");
const rowOf = (id) => [...document.querySelectorAll("tr[data-sequence]")].find((r) => r.textContent.includes(id));
const letter = await until("DASH1's dead letter", () => rowOf("DASH1"));
if (!letter.textContent.includes("rejected")) fail(`the dead letter's row reads ${letter.textContent}`);
letter.querySelector('button[data-action="payload"]').click();
await until("the payload", () => !$("#detail").hidden && $("#detail").textContent.includes("MSH|"));
letter.querySelector('button[data-action="reprocess"]').click();
await until("the reprocess notice", noticeSays("1 requeued."));
const other = await until("only DASH2's dead letter", () => !rowOf("DASH1") && rowOf("DASH2"));
other.querySelector('button[data-action="purge"]').click();
await until("the purge notice", noticeSays("1 purged."));
await until("an empty dead-letter queue", () => !$("tr[data-sequence]"));
step("one dead letter was reprocessed, the other purged");

// 5. The message search finds DASH1 delivered.
await go("#messages", "messages");
const form = $("#message-filters");
form.querySelector('[name="control_id"]').value = "DASH1";
await until("DASH1 processed and routed", () => {
  form.dispatchEvent(new window.Event("submit", { cancelable: true }));
  const found = $("#messages tbody tr");
  return found && found.textContent.includes("DASH1") && found.textContent.includes("processed") && found;
});
if ($("#messages tbody tr:nth-child(2)")) fail("the search for DASH1 found more than one message");
click('#messages button[data-action="body"]');
await until("the body, a segment a line", () => !$("#detail").hidden && $("#detail").textContent.includes("\nPID|"));
const shown = $("#view").dataset.refreshed;
form.dispatchEvent(new window.Event("submit", { cancelable: true }));
await until("another refresh", () => $("#view").dataset.refreshed !== shown);
if ($("#detail").hidden) fail("a refresh hid the body asked for");
step("the message search finds DASH1 processed, with its body on request");

// 5b. An admin finds both messages by the patient's number (PID-3.1 = 42).
form.querySelector('[name="control_id"]').value = "";
form.querySelector('[name="field"]').value = "PID-3.1";
form.querySelector('[name="value"]').value = "42";
await until("both messages by PID-3.1", () => {
  form.dispatchEvent(new window.Event("submit", { cancelable: true }));
  const text = $("#messages tbody")?.textContent ?? "";
  return text.includes("DASH1") && text.includes("DASH2");
});
form.querySelector('[name="value"]').value = "43";
await until("no message for another number", () => {
  form.dispatchEvent(new window.Event("submit", { cancelable: true }));
  return $("#view").textContent.includes("No message matches.");
});
form.querySelector('[name="field"]').value = "";
form.querySelector('[name="value"]').value = "";
form.querySelector('[name="control_id"]').value = "DASH1";
form.dispatchEvent(new window.Event("submit", { cancelable: true }));
await until("DASH1 alone again", () => {
  const rows = document.querySelectorAll("#messages tbody tr");
  return rows.length === 1 && rows[0].textContent.includes("DASH1");
});
step("the messages of a patient's number are found by a field's value");

// 5c. A search that may read one stored message stops at DASH2, the newest,
// and offers to search further back, where DASH1 is.
form.querySelector('[name="scan_limit"]').value = "1";
form.dispatchEvent(new window.Event("submit", { cancelable: true }));
const further = await until("the offer to search further back", () => $("#search-further button"));
if (!$("#view").textContent.includes("No message matches.")) fail("the newest message is not DASH1");
further.click();
await until("DASH1 found further back", () => {
  const rows = document.querySelectorAll("#messages tbody tr");
  return rows.length === 1 && rows[0].textContent.includes("DASH1");
});
form.querySelector('[name="scan_limit"]').value = "";
form.dispatchEvent(new window.Event("submit", { cancelable: true }));
await until("DASH1 alone, from the newest again", () => {
  const rows = document.querySelectorAll("#messages tbody tr");
  return rows.length === 1 && rows[0].textContent.includes("DASH1") && !$("#search-further");
});
step("a search that reads its limit offers to search further back");

// 6. Run DASH1 through the pipeline again.
click('#messages button[data-action="reprocess"]');
await until("the reprocess notice", noticeSays("1 requeued."));
step("DASH1 was reprocessed");

// 7. Upload a new build of the plugin.
await go("#plugins", "plugins");
const bytes = readFileSync(pluginPath);
const sha256 = createHash("sha256").update(bytes).digest("hex");
const input = $('#upload input[type="file"]');
Object.defineProperty(input, "files", { value: [new window.File([bytes], "passthrough.wasm")] });
$("#upload").dispatchEvent(new window.Event("submit", { cancelable: true }));
await until("the upload notice", noticeSays(`(${sha256.slice(0, 12)})`));
await until("the new version's row", () => $(`tr[data-sha256="${sha256}"]`));
step("a new build was uploaded");

// 8. Activate it on the channel's stage, then roll back.
await go("#channel/test", "channel");
const select = await until("the stage's version choice", () => $('tr[data-stage="0"] select'));
select.value = sha256;
if (select.value !== sha256) fail("the uploaded build is not offered for the stage");
click('tr[data-stage="0"] button[data-action="activate"]');
await until("the swap notice", noticeSays("runs"));
await until("the new build running", () => $('tr[data-stage="0"] .active code')?.title === sha256);
click('tr[data-stage="0"] button[data-action="rollback"]');
await until("the old build running", () => {
  const active = $('tr[data-stage="0"] .active code');
  return active && active.title !== sha256;
});
click('tr[data-stage="0"] button[data-action="activate"]');
await until("the new build running again", () => $('tr[data-stage="0"] .active code')?.title === sha256);
step("the build was activated, rolled back and activated again");

// 8b. The destination that cannot be reached says why its queue waits.
await until("why WAIT1 waits for `down`", () => {
  const failing = $('tr[data-destination="down"] td.failing')?.textContent ?? "";
  return failing.includes("unreachable") && failing.includes("attempts");
});
step("a destination that cannot be reached shows why its queue waits");

// 9. The alerts view answers.
await go("#alerts", "alerts");
await until("the alerts", () => $("#alerts"));
await until("no alert count once the dead letters are gone", () => alertsLink().textContent === "Alerts");
step("the alerts are shown, and the count is gone with the dead letters");

// 10. The TLS listener's certificate is listed, and its files reloaded.
await go("#certificates", "certificates");
const certificate = await until("the secure channel's certificate", () => $('tr[data-endpoint="secure"]'));
if (!certificate.textContent.includes("CN=hl7wasm")) fail(`the certificate row reads ${certificate.textContent}`);
click('button[data-action="reload-tls"]');
await until("the reload notice", noticeSays("0 reloaded, 1 unchanged, 0 failed."));
step("the certificates are listed and reloaded");

// 11. The configuration is shown; the file, changed behind the engine's
// back (an alert rule, and a signing policy the uploaded build fails), is
// checked by a dry run and then reloaded. The plugins view then flags that
// build, which keeps running.
await go("#config", "config");
await until("the configuration", () => $("#config")?.textContent.includes('"name": "test"'));
const reloaded =
  "started none; restarted none; stopped none; unchanged test, secure; " +
  "settings alerts, plugins.require_signed, plugins.trusted_keys; " +
  `untrusted passthrough@0.1.0 (${sha256.slice(0, 12)}): the plugin is not signed (sign it with \`hl7wasm plugin sign\`).`;
click('button[data-action="reload-dry-run"]');
await until("the dry run's notice", noticeSays(`Dry run, nothing applied: ${reloaded}`));
if ($("#config").textContent.includes('"queue_age_max_secs": 601')) fail("the dry run applied the change");
click('button[data-action="reload-config"]');
await until("the reload's notice", noticeSays(`Reloaded: ${reloaded}`));
await until("the new rule shown", () => $("#config").textContent.includes('"queue_age_max_secs": 601'));
step("the configuration was checked and reloaded");
await go("#plugins", "plugins");
const flagged = await until("the uploaded build flagged", () => $(`tr[data-sha256="${sha256}"] .badge.untrusted`));
if (!flagged.title.includes("not signed")) fail(`the untrusted badge says ${flagged.title}`);
step("the build the new signing policy refuses is flagged");

if (pageErrors.length) fail("the page raised errors");
console.log(JSON.stringify({ ok: true, activated: sha256 }));
window.close();
process.exit(0);
