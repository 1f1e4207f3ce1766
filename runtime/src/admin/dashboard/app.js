// The hl7wasm dashboard: one page over the admin API (/api/v1) and nothing
// else. What the API answers goes into the page as text, never as HTML, so
// a control ID or an error text cannot inject markup. The bearer token is
// kept in this tab's sessionStorage only. Message and dead-letter bodies
// are fetched only when asked for, and the API gives them to admins alone.
"use strict";

(() => {
  const API = "/api/v1";
  const REFRESH_MS = 5000;
  const TOKEN_KEY = "hl7wasm.token";
  const $ = (id) => document.getElementById(id);
  const view = $("view");
  const notice = $("notice");
  const enc = encodeURIComponent;

  // ---- The API ----------------------------------------------------------

  /** An error answer: the HTTP status and the API's JSON code and message. */
  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  /** Calls the API: a JSON body, or bytes for an upload; JSON or text back. */
  async function api(method, path, body) {
    return (await answer(method, path, body)).data;
  }

  /** [`api`], with the answer's headers: `{ data, headers }`. */
  async function answer(method, path, body) {
    const headers = {};
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = `Bearer ${token}`;
    let payload;
    if (body instanceof Uint8Array) {
      headers["Content-Type"] = "application/wasm";
      payload = body;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const response = await fetch(API + path, { method, headers, body: payload });
    const type = response.headers.get("content-type") || "";
    const data = type.startsWith("application/json") ? await response.json() : await response.text();
    if (!response.ok) {
      const message = (data && data.message) || `HTTP ${response.status}`;
      throw new ApiError(response.status, data && data.code, message);
    }
    return { data, headers: response.headers };
  }
  const get = (path) => api("GET", path);
  const post = (path, body) => api("POST", path, body ?? {});

  // ---- Building the page ------------------------------------------------

  /** An element: `on*` attributes become listeners, `dataset` data-*;
   * children that are not nodes become text. */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }
  const badge = (text) => el("span", { class: `badge ${text}` }, text);
  const number = (value) => el("td", { class: "number" }, value ?? 0);
  const time = (ms) => (ms ? new Date(ms).toLocaleString() : "");
  const short = (sha256) => el("code", { title: sha256 }, sha256.slice(0, 12));
  const age = (ms) => (ms === null || ms === undefined ? "" : `${(ms / 1000).toFixed(1)} s`);

  function table(headings, rows, attrs = {}) {
    return el(
      "table",
      attrs,
      el("thead", {}, el("tr", {}, headings.map((h) => el("th", {}, h)))),
      el("tbody", {}, rows),
    );
  }

  /** A key/value table. */
  function facts(pairs) {
    return el("table", {}, el("tbody", {}, pairs.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v)))));
  }

  function button(label, action, onclick, attrs = {}) {
    return el("button", { type: "button", dataset: { action }, onclick, ...attrs }, label);
  }

  /** A labelled input for a filter form. */
  function field(label, name, attrs = {}) {
    return el("label", {}, label, el("input", { name, ...attrs }));
  }

  function choice(label, name, options) {
    return el("label", {}, label, el("select", { name }, options.map((o) => el("option", { value: o }, o || "any"))));
  }

  /** The non-empty fields of a form as a query string or an object. */
  function formValues(form) {
    const values = {};
    for (const [key, value] of new FormData(form)) {
      if (value !== "") values[key] = value;
    }
    return values;
  }
  const query = (values) => {
    const text = new URLSearchParams(values).toString();
    return text ? `?${text}` : "";
  };

  function say(text, isError = false) {
    notice.textContent = text;
    notice.className = isError ? "error" : "";
    notice.hidden = false;
  }

  function explain(error) {
    if (error instanceof ApiError && error.status === 401) {
      say(`The API wants a token: ${error.message}`, true);
    } else if (error instanceof ApiError && error.status === 403) {
      say(`This token's role may not do that: ${error.message}`, true);
    } else {
      say(error.message || String(error), true);
    }
  }

  /** Runs an action, says what came of it, and refreshes the view. */
  async function act(work, describe) {
    try {
      say(describe(await work()));
    } catch (error) {
      explain(error);
    }
    await refresh();
  }

  function confirmed(question) {
    return window.confirm(question);
  }

  // ---- Channels ---------------------------------------------------------

  function controls(status) {
    const name = status.name;
    const control = (label, action, question) =>
      button(label, action, () => {
        if (question && !confirmed(question)) return;
        act(() => post(`/channels/${enc(name)}/${action}`), (r) => `Channel ${name} is ${r.state}.`);
      });
    if (status.state === "running") {
      return [control("Pause", "pause"), control("Stop", "stop", `Stop ${name}? Its listener closes.`)];
    }
    if (status.state === "paused") {
      return [control("Resume", "resume"), control("Stop", "stop", `Stop ${name}? Its listener closes.`)];
    }
    return [control("Start", "start")];
  }

  const depth = (partitions) => partitions.reduce((sum, p) => sum + p.depth, 0);

  /** Why a destination's queue waits: the partition whose oldest entry has failed longest. */
  function failing(partitions) {
    const failed = partitions.map((p) => p.failing).filter(Boolean);
    if (!failed.length) return el("td", {}, "");
    const first = failed.reduce((a, b) => ((a.since_ms ?? Infinity) <= (b.since_ms ?? Infinity) ? a : b));
    const unreachable = first.unreachable_attempts ? ` (${first.unreachable_attempts} unreachable)` : "";
    const text = `since ${time(first.since_ms)}, ${first.attempts} attempts${unreachable}: ${first.last_error ?? ""}`;
    return el("td", { class: "failing" }, text);
  }
  const queued = (queues) =>
    depth(queues.inbound) + Object.values(queues.outbound).reduce((sum, q) => sum + depth(q), 0);
  const rate = (rates, key) => (rates ? rates[key].toFixed(1) : "");

  async function channelsView() {
    const list = await get("/channels");
    const details = await Promise.all(
      list.map((c) => Promise.all([get(`/channels/${enc(c.name)}`), get(`/channels/${enc(c.name)}/queues`)])),
    );
    const rows = details.map(([status, queues]) => {
      const s = status.stats;
      return el(
        "tr",
        { dataset: { channel: status.name } },
        el("td", {}, el("a", { href: `#channel/${enc(status.name)}` }, status.name)),
        el("td", { class: "state" }, badge(status.state)),
        el("td", {}, status.source, status.tls ? " (TLS)" : ""),
        number(s.messages_stored),
        number(s.duplicates),
        number(s.acks.AA + s.acks.CA),
        number(s.acks.AE + s.acks.AR + s.acks.CE + s.acks.CR),
        number(s.processed.processed),
        number(s.processed.filtered),
        number(queued(queues)),
        el("td", { class: "number dead-letters" }, status.dead_letters),
        number(rate(status.rates, "received")),
        number(rate(status.rates, "delivered")),
        el("td", {}, controls(status)),
      );
    });
    return table(
      ["channel", "state", "source", "stored", "duplicates", "AA", "AE/AR", "processed", "filtered",
        "queued", "dead letters", "in/s", "out/s", ""],
      rows,
      { id: "channels" },
    );
  }

  async function channelView(name) {
    const [status, queues, versions] = await Promise.all([
      get(`/channels/${enc(name)}`),
      get(`/channels/${enc(name)}/queues`),
      get("/plugins"),
    ]);
    const s = status.stats;
    const summary = facts([
      ["state", [badge(status.state), " ", controls(status)]],
      ["source", `${status.source}${status.tls ? " (TLS)" : ""}`],
      ["ACK mode", `${status.ack_mode}${status.ack_destination ? `, verdict of ${status.ack_destination}` : ""}`],
      ["partitions", `${status.partitions}${status.partition_by ? ` by ${status.partition_by}` : ""}, ${status.ordering}`],
      ["received", `${s.frames_received} received, ${s.messages_stored} stored, ${s.duplicates} duplicates, ${s.control_id_reuses} reused control ids, ${s.storage_failures} storage failures`],
      ["last message", s.last_received_unix_secs == null ? "none since the engine started" : time(s.last_received_unix_secs * 1000)],
      ["profile", status.validation_profile ? `${status.validation_profile}, ${s.messages_invalid} refused` : "none"],
      ["ACKs", Object.entries(s.acks).map(([code, n]) => `${code} ${n}`).join(", ")],
      ["dead letters", el("a", { href: "#dead-letters" }, String(status.dead_letters))],
    ]);
    const stages = table(
      ["stage", "plugin", "configured", "running", "before the last swap", "activate"],
      status.stages.map((stage) => stageRow(name, stage, versions)),
      { id: "stages" },
    );
    const destinations = table(
      ["destination", "type", "delivered", "retries", "unreachable", "rejected", "queued", "failing"],
      status.destinations.map((d) => {
        const counts = s.destinations[d.name] || { attempts: {} };
        return el(
          "tr",
          { dataset: { destination: d.name } },
          el("td", {}, d.name),
          el("td", {}, d.type),
          number(counts.attempts.delivered),
          number(counts.attempts.retry),
          number(counts.attempts.unreachable),
          number(counts.attempts.rejected),
          number(depth(queues.outbound[d.name] || [])),
          failing(queues.outbound[d.name] || []),
        );
      }),
    );
    const inbound = table(
      ["partition", "waiting for the pipeline", "oldest"],
      queues.inbound.map((p) => el("tr", {}, number(p.partition), number(p.depth), el("td", {}, age(p.oldest_age_ms)))),
    );
    return [
      el("h2", {}, `Channel ${status.name}`),
      summary,
      el("h2", {}, "Pipeline"),
      stages,
      el("h2", {}, "Destinations"),
      destinations,
      el("h2", {}, "Inbound queues"),
      inbound,
    ];
  }

  function stageRow(channel, stage, versions) {
    const path = `/channels/${enc(channel)}/stages/${stage.index}`;
    const label = (v) => `${v.version} (${v.sha256.slice(0, 12)})`;
    const select = el(
      "select",
      { name: "version" },
      versions
        .filter((v) => v.name === stage.active.name && v.sha256 !== stage.active.sha256)
        .map((v) => el("option", { value: v.sha256 }, label(v))),
    );
    const activate = button("Activate", "activate", () =>
      act(
        () => post(`${path}/activate`, { version: select.value }),
        (r) => `Stage ${r.stage} runs ${label(r.active)} now, in ${r.swap_micros} µs.`,
      ),
    );
    const rollback = button("Roll back", "rollback", () =>
      act(() => post(`${path}/rollback`), (r) => `Stage ${r.stage} runs ${label(r.active)} again.`),
    );
    return el(
      "tr",
      { dataset: { stage: stage.index } },
      number(stage.index),
      el("td", {}, stage.active.name),
      el("td", {}, stage.configured),
      el("td", { class: "active" }, stage.active.version, " ", short(stage.active.sha256)),
      el("td", {}, stage.previous ? [stage.previous.version, " ", short(stage.previous.sha256), " ", rollback] : ""),
      el("td", {}, select.options.length ? [select, activate] : el("span", { class: "muted" }, "no other version")),
    );
  }

  // ---- Messages ---------------------------------------------------------

  function messageFilters() {
    return el(
      "form",
      { class: "filters", id: "message-filters", onsubmit: searchedAgain },
      field("channel", "channel", { size: 10 }),
      field("control ID (MSH-10)", "control_id", { size: 14 }),
      field("sender certificate", "peer_certificate", { size: 12 }),
      field("type (MSH-9)", "type", { size: 10, placeholder: "ADT or ADT^A01" }),
      choice("status", "status", ["", "pending", "processed", "filtered", "retrying", "dead_lettered", "requeued"]),
      // A search by a field's value is for the admin role (it finds a patient's messages).
      field("field", "field", { size: 8, placeholder: "PID-3.1" }),
      field("value", "value", { size: 12 }),
      field("at most", "limit", { type: "number", min: 1, max: 1000, value: 100 }),
      // How many stored messages one search reads, newest first (the API's
      // default when empty: 1,000,000).
      field("reading at most", "scan_limit", { type: "number", min: 1, max: 1000000, placeholder: "1000000" }),
      // Where a search that read its limit of stored messages stopped.
      el("input", { type: "hidden", name: "before_id" }),
      el("button", { type: "submit" }, "Search"),
    );
  }

  /** A new search starts from the newest message again. */
  function searchedAgain(event) {
    event.target.elements.before_id.value = "";
    submitted(event);
  }

  function submitted(event) {
    event.preventDefault();
    refresh();
  }

  const stageText = (s) => `${s.plugin} ${s.version} ${s.outcome} ${s.micros} µs${s.detail ? `: ${s.detail}` : ""}`;

  /** Runs the messages `filter` matches through their pipeline again. */
  function reprocess(filter, what) {
    return button(`Reprocess ${what}`, "reprocess", () => {
      if (!confirmed(`Run ${what} through the pipeline again and deliver the outputs again?`)) return;
      act(
        () => post("/messages/reprocess", filter),
        (r) => `${r.requeued.length} requeued${r.skipped.length ? `, ${r.skipped.length} still queued and skipped` : ""}.`,
      );
    });
  }

  async function messagesView() {
    const form = $("message-filters");
    const values = formValues(form);
    const limit = Number(values.limit ?? 100);
    const numbers = ["before_id", "scan_limit"].filter((key) => values[key]).map((key) => [key, Number(values[key])]);
    const filter = { ...values, limit, ...Object.fromEntries(numbers) };
    // POSTed, so that a value searched for (a patient's number) is in no URL.
    const { data: found, headers } = await answer("POST", "/messages/search", filter);
    const further = headers.get("hl7wasm-next-before-id");
    const rows = found.map((m) => {
      const status = m.status || { state: "pending", stages: [], routed_to: [] };
      return el(
        "tr",
        { dataset: { message: m.id } },
        number(m.id),
        el("td", {}, time(m.received_at_ms)),
        el("td", {}, m.channel),
        el("td", { class: "mono" }, m.control_id ?? ""),
        el("td", {}, m.message_type ?? ""),
        number(m.size_bytes),
        el("td", {}, badge(status.state)),
        el("td", {}, status.stages.map((s) => el("div", {}, stageText(s)))),
        el("td", {}, status.routed_to.join(", "), status.error ? el("div", { class: "muted" }, status.error) : ""),
        el(
          "td",
          {},
          button("Details", "details", () =>
            reveal(async () => JSON.stringify(await get(`/messages/${m.id}`), null, 2)),
          ),
          button("Body", "body", () => reveal(() => get(`/messages/${m.id}/body`))),
          reprocess({ id: m.id }, "this one"),
        ),
      );
    });
    return [
      found.length ? el("p", {}, reprocess(filter, `all ${found.length} shown`)) : "",
      table(["id", "received", "channel", "control ID", "type", "bytes", "state", "stages", "routed to", ""], rows, {
        id: "messages",
      }),
      found.length ? "" : el("p", { class: "muted" }, "No message matches."),
      further
        ? el(
            "p",
            { class: "muted", id: "search-further" },
            "The search read as many stored messages as one search may and stopped; older ones may match. ",
            button("Search further back", "further", () => {
              form.elements.before_id.value = further;
              refresh();
            }),
          )
        : "",
    ];
  }

  // ---- Dead letters -----------------------------------------------------

  function deadLetterFilters() {
    return el(
      "form",
      { class: "filters", id: "dead-letter-filters", onsubmit: submitted },
      field("channel", "channel", { size: 10 }),
      field("destination", "destination", { size: 10, placeholder: "or pipeline" }),
      choice("reason", "reason", ["", "plugin_rejected", "plugin_retries_exhausted", "rejected", "retries_exhausted", "not_configured"]),
      el("button", { type: "submit" }, "Filter"),
    );
  }

  /** Reprocess or purge the dead letters `filter` matches. */
  function bulk(filter, what) {
    const reprocess = button(`Reprocess ${what}`, "reprocess", () =>
      act(() => post("/dead-letters/reprocess", filter), (r) => `${r.requeued} requeued.`),
    );
    const purge = button(`Purge ${what}`, "purge", () => {
      if (!confirmed(`Purge ${what}? Their payloads are deleted.`)) return;
      act(() => post("/dead-letters/purge", filter), (r) => `${r.purged} purged.`);
    });
    return [reprocess, purge];
  }

  async function deadLettersView() {
    const filter = formValues($("dead-letter-filters"));
    const letters = await get(`/dead-letters${query(filter)}`);
    const rows = letters.map((d) =>
      el(
        "tr",
        { dataset: { sequence: d.sequence } },
        number(d.sequence),
        el("td", {}, d.channel),
        el("td", {}, d.destination ?? "pipeline"),
        el("td", { class: "mono" }, d.control_id ?? ""),
        el("td", {}, d.message_type ?? ""),
        el("td", {}, badge(d.reason)),
        el("td", {}, d.error),
        number(d.attempts),
        el("td", {}, time(d.first_failure_ms)),
        el("td", {}, time(d.last_failure_ms)),
        el(
          "td",
          {},
          bulk({ sequence: d.sequence }, "this one"),
          button("Payload", "payload", () =>
            reveal(async () => {
              const letter = await get(`/dead-letters/${d.sequence}`);
              if (letter.body === undefined) throw new Error("Payloads are shown to the admin role only.");
              return letter.body;
            }),
          ),
        ),
      ),
    );
    return [
      letters.length ? el("p", {}, bulk(filter, `all ${letters.length} shown`)) : el("p", { class: "muted" }, "No dead letters."),
      table(
        ["#", "channel", "destination", "control ID", "type", "reason", "error", "attempts", "first failure", "last failure", ""],
        rows,
        { id: "dead-letters" },
      ),
    ];
  }

  // ---- Plugins and alerts -----------------------------------------------

  /** A chosen file's bytes. */
  function bytesOf(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(new Uint8Array(reader.result));
      reader.onerror = () => reject(reader.error);
      reader.readAsArrayBuffer(file);
    });
  }

  function uploadForm() {
    const file = el("input", { type: "file", name: "component", accept: ".wasm" });
    const upload = async (event) => {
      event.preventDefault();
      const chosen = file.files[0];
      if (!chosen) return say("Choose a .wasm file first.", true);
      const bytes = await bytesOf(chosen);
      await act(
        () => api("POST", "/plugins", bytes),
        (v) => `Loaded ${v.name} ${v.version} (${v.sha256.slice(0, 12)}). Activate it on a channel's page.`,
      );
    };
    return el("form", { class: "filters", id: "upload", onsubmit: upload }, el("label", {}, "plugin (.wasm)", file),
      el("button", { type: "submit" }, "Upload"));
  }

  async function pluginsView() {
    const [versions, channels] = await Promise.all([get("/plugins"), get("/channels")]);
    const statuses = await Promise.all(channels.map((c) => get(`/channels/${enc(c.name)}`)));
    const runs = (sha256) =>
      statuses.flatMap((c) => c.stages.filter((s) => s.active.sha256 === sha256).map((s) => `${c.name} stage ${s.index}`));
    const rows = versions.map((v) => {
      const where = runs(v.sha256);
      const remove = button("Delete", "delete", () => {
        if (!confirmed(`Delete ${v.name} ${v.version}? Its file goes too.`)) return;
        act(() => api("DELETE", `/plugins/${v.sha256}`), (d) => `Deleted ${d.name} ${d.version}.`);
      });
      return el(
        "tr",
        { dataset: { sha256: v.sha256 } },
        el("td", {}, v.name),
        // A version the signing policy now refuses keeps running: say so.
        el("td", {}, v.version, v.untrusted && [" ", el("span", { class: "badge untrusted", title: v.untrusted }, "untrusted")]),
        el("td", {}, short(v.sha256)),
        el("td", {}, v.vendor),
        el("td", {}, v.description),
        el("td", {}, v.message_types.join(", ")),
        el("td", {}, where.length ? where.join(", ") : remove),
      );
    });
    return table(["plugin", "version", "sha256", "vendor", "description", "message types", "runs in"], rows, {
      id: "plugins",
    });
  }

  async function alertsView() {
    const alerts = await get("/alerts");
    if (!alerts.length) return el("p", { class: "muted", id: "alerts" }, "No active alerts.");
    return table(
      ["kind", "channel", "what", "raised"],
      // An engine-wide alert (storage_space) names no channel.
      alerts.map((a) => el("tr", {}, el("td", {}, a.kind), el("td", {}, a.channel || "(engine)"), el("td", {}, a.text), el("td", {}, time(a.raised_at_ms)))),
      { id: "alerts" },
    );
  }

  // ---- TLS certificates -------------------------------------------------

  const DAY_MS = 86400000;

  function reloadForm() {
    return el(
      "p",
      { class: "filters" },
      button("Reload TLS files", "reload-tls", () => {
        if (!confirmed("Read every listener's and destination's TLS files again?")) return;
        act(
          () => post("/tls/reload"),
          (reloads) => {
            const count = (outcome) => reloads.filter((r) => r.outcome === outcome).length;
            const failed = reloads.filter((r) => r.error).map((r) => `${r.endpoint}: ${r.error}`);
            const summary = `${count("reloaded")} reloaded, ${count("unchanged")} unchanged, ${count("failed")} failed.`;
            return [summary, ...failed].join(" ");
          },
        );
      }),
    );
  }

  async function certificatesView() {
    const certificates = await get("/tls");
    if (!certificates.length) return el("p", { class: "muted", id: "certificates" }, "No TLS listener or destination.");
    const rows = certificates.map(({ endpoint, certificate }) => {
      const endsMs = certificate.not_after_unix * 1000;
      const days = Math.floor((endsMs - Date.now()) / DAY_MS);
      return el(
        "tr",
        { dataset: { endpoint } },
        el("td", {}, endpoint),
        el("td", {}, certificate.subject),
        el("td", {}, time(endsMs)),
        el("td", { class: days < 14 ? "number alarm" : "number" }, days),
        el("td", {}, short(certificate.sha256)),
      );
    });
    return table(["endpoint", "subject", "ends", "days left", "SHA-256"], rows, { id: "certificates" });
  }

  // ---- Configuration ----------------------------------------------------

  /** What a reload did, or in a dry run would do, in words. */
  function reloadSummary(report, dryRun) {
    const list = (names) => (names.length ? names.join(", ") : "none");
    const parts = [
      `started ${list(report.started)}`,
      `restarted ${list(report.restarted)}`,
      `stopped ${list(report.stopped)}`,
      `unchanged ${list(report.unchanged)}`,
      `settings ${list(report.settings)}`,
    ];
    // Loaded versions the new signing policy refuses (they keep running).
    if (report.untrusted_plugins?.length) parts.push(`untrusted ${report.untrusted_plugins.join(", ")}`);
    return `${dryRun ? "Dry run, nothing applied" : "Reloaded"}: ${parts.join("; ")}.`;
  }

  function configForm() {
    const reload = (dryRun) => () => {
      if (!dryRun && !confirmed("Read the configuration file again and apply what changed?")) return;
      act(
        () => post(dryRun ? "/config/reload?dry_run=true" : "/config/reload"),
        (report) => reloadSummary(report, dryRun),
      );
    };
    return el(
      "p",
      { class: "filters" },
      button("Check the file (dry run)", "reload-dry-run", reload(true)),
      button("Reload the file", "reload-config", reload(false)),
    );
  }

  /** The configuration the engine runs, secrets redacted. */
  async function configView() {
    return el("pre", { id: "config" }, JSON.stringify(await get("/config"), null, 2));
  }

  // ---- Routing and refresh ----------------------------------------------

  const views = {
    channels: { results: channelsView },
    channel: { results: channelView, nav: "channels" },
    messages: { controls: messageFilters, results: messagesView },
    "dead-letters": { controls: deadLetterFilters, results: deadLettersView },
    plugins: { controls: uploadForm, results: pluginsView },
    alerts: { results: alertsView },
    certificates: { controls: reloadForm, results: certificatesView },
    config: { controls: configForm, results: configView },
  };

  function route() {
    const [name, ...rest] = location.hash.slice(1).split("/");
    return views[name] ? { name, arg: decodeURIComponent(rest.join("/")) } : { name: "channels", arg: "" };
  }

  let results = el("div");
  let detail = el("pre");
  let generation = 0;

  /** Shows what `fetchText` gets (a body, a record) below the view until
   * the view changes; refreshes leave it alone. HL7 segments end in CR,
   * shown as line breaks. */
  async function reveal(fetchText) {
    try {
      detail.textContent = String(await fetchText()).replace(/\r\n?/g, "\n");
      detail.hidden = false;
    } catch (error) {
      explain(error);
    }
  }

  /** Builds the view the address names: its form once, then its data. */
  function show() {
    const { name } = route();
    const spec = views[name];
    for (const link of document.querySelectorAll("header nav a")) {
      link.classList.toggle("current", link.getAttribute("href") === `#${spec.nav || name}`);
    }
    results = el("div", { id: "results" });
    detail = el("pre", { id: "detail", hidden: true });
    view.replaceChildren(...(spec.controls ? [spec.controls()] : []), results, detail);
    view.dataset.view = name;
    return refresh();
  }

  /** Fetches the current view's data again; a late answer to an older
   * request is dropped. */
  async function refresh() {
    const mine = ++generation;
    const { name, arg } = route();
    try {
      const content = await views[name].results(arg);
      if (mine !== generation) return;
      results.replaceChildren(...[content].flat().filter((c) => c !== ""));
      view.dataset.refreshed = String(mine);
    } catch (error) {
      if (mine === generation) explain(error);
    }
    await Promise.all([health(), alertBadge()]);
  }

  /** Counts the active alerts on the Alerts link, whatever the view, so
   * that an operator sees one raised while looking elsewhere. */
  async function alertBadge() {
    const link = document.querySelector('header nav a[href="#alerts"]');
    let count = 0;
    try {
      count = (await get("/alerts")).length;
    } catch {
      // Without a token the API says nothing; the view explains why.
    }
    link.textContent = count ? `Alerts (${count})` : "Alerts";
    link.classList.toggle("alarm", count > 0);
  }

  async function health() {
    const mark = $("health");
    try {
      await fetch(`${API}/health`).then((r) => r.ok || Promise.reject(new Error("down")));
      const ready = (await fetch(`${API}/ready`)).ok;
      mark.textContent = ready ? "ready" : "not ready";
      mark.className = `badge ${ready ? "ready" : "paused"}`;
    } catch {
      mark.textContent = "down";
      mark.className = "badge down";
    }
  }

  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value);
    $("token").value = "";
    say("Token set for this tab.");
    refresh();
  });
  $("forget-token").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    say("Token forgotten.");
    refresh();
  });
  window.addEventListener("hashchange", show);
  setInterval(() => {
    if ($("auto-refresh").checked && !document.hidden) refresh();
  }, REFRESH_MS);
  show();
})();
