// Payable Studio in the browser: the key and its signatures live here; the server prepares and relays.
// The server sends the exact body bytes of each extrinsic and what they say; this page shows that, signs
// the bytes with the key held in this browser (tweetnacl's ed25519) and sends back only the signature.
"use strict";

const Studio = (() => {
  const KEY = "payable.key";
  const TERMINAL = ["completed", "failed", "aborted", "interrupted"];

  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const unhex = (text) => {
    if (!/^([0-9a-fA-F]{2})*$/.test(text)) throw new Error("not hex");
    return new Uint8Array(text.match(/../g)?.map((h) => parseInt(h, 16)) || []);
  };

  function toast(message, error = false) {
    const box = document.getElementById("toast");
    box.textContent = message;
    box.className = error ? "show error" : "show";
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => (box.className = ""), error ? 12000 : 5000);
  }

  // The studio's CSRF token (this page's <meta>): a state-changing request without JSON must carry it.
  const csrf = () => document.querySelector("meta[name=csrf-token]")?.content || "";

  async function api(path, body, options = {}) {
    const init = body === undefined ? { method: options.method || "GET" } : {
      method: "POST",
      headers: body instanceof FormData ? { "X-CSRF-Token": csrf() } : { "Content-Type": "application/json" },
      body: body instanceof FormData ? body : JSON.stringify(body),
    };
    const response = await fetch(path, init);
    const data = await response.json().catch(() => ({ detail: response.statusText }));
    if (!response.ok) throw new Error(typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail));
    return data;
  }

  // --- the key --------------------------------------------------------------------------------
  function key() {
    const stored = JSON.parse(localStorage.getItem(KEY) || "null");
    if (!stored) return null;
    const pair = nacl.sign.keyPair.fromSeed(unhex(stored.seed));
    return { name: stored.name, pair, public: hex(pair.publicKey) };
  }

  function setKey(name, seed) {
    if (!/^[0-9a-fA-F]{64}$/.test(seed)) throw new Error("a seed is 64 hex digits");
    localStorage.setItem(KEY, JSON.stringify({ name, seed: seed.toLowerCase() }));
    showKey();
  }

  async function showKey() {
    const current = key();
    const label = document.getElementById("current-key");
    const status = document.getElementById("key-status");
    const text = current ? `${current.name} (${current.public.slice(0, 12)}…)` : "no key selected";
    if (label) label.textContent = text;
    if (status) status.textContent = text;
    gate();
  }

  // A button marked `data-signers` (the public keys, hex, the chain accepts that call from) works only for
  // those keys: for any other it is disabled and its title says why - a call sure to fail is never signed.
  function mayUse(element) {
    const signers = element.dataset.signers;
    if (signers === undefined) return true;
    const current = key();
    return Boolean(current) && signers.split(" ").includes(current.public);
  }

  function gate() {
    for (const element of document.querySelectorAll("[data-signers]")) {
      const allowed = mayUse(element);
      element.disabled = !allowed;
      element.title = allowed ? "" : element.dataset.why;
    }
  }

  function requireKey() {
    const current = key();
    if (!current) throw new Error("choose a key first (Keys page)");
    return current;
  }

  // --- signing --------------------------------------------------------------------------------
  function confirmSign(summary) {
    const dialog = document.getElementById("sign-dialog");
    const table = document.getElementById("sign-summary");
    table.replaceChildren(...summary.map(([k, v]) => {
      const row = document.createElement("tr");
      for (const text of [k, v]) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.append(cell);
      }
      return row;
    }));
    return new Promise((resolve) => {
      const done = (ok) => { dialog.close(); resolve(ok); };
      document.getElementById("sign-confirm").onclick = () => done(true);
      document.getElementById("sign-cancel").onclick = () => done(false);
      dialog.showModal();
    });
  }

  async function signPrepared(prepared) {
    const current = requireKey();
    if (!(await confirmSign(prepared.summary))) throw new Error("not signed");
    const signature = nacl.sign.detached(unhex(prepared.body), current.pair.secretKey);
    const result = await api("/api/submit", { body: prepared.body, signature: hex(signature) });
    if (!result.success) throw new Error(`the call failed in block #${result.block}: ${result.error}`);
    return result;
  }

  async function send(pallet, call, fields, { reload = true } = {}) {
    try {
      const current = requireKey();
      const prepared = await api("/api/prepare", { signer: current.public, pallet, call, fields });
      const result = await signPrepared(prepared);
      toast(`${pallet}.${call} included in block #${result.block}`);
      if (reload) setTimeout(() => location.reload(), 400);
      return result;
    } catch (error) {
      toast(error.message, true);
      return null;
    }
  }

  // --- DataNets -------------------------------------------------------------------------------
  function createDataNet(form) {
    const data = new FormData(form);
    send("datanet", "create_datanet", {
      name: data.get("name"), domain: data.get("domain"), license: data.get("license"),
      description: data.get("description") || "", contribution_deposit: data.get("deposit"),
      accepted_formats: String(data.get("formats")).split(",").map((f) => f.trim()).filter(Boolean),
    }, { reload: false }).then(async (result) => {
      if (!result) return;
      const made = result.events.find((e) => e.name === "datanet.DataNetCreated");
      const id = made ? made.data.datanet : null;
      if (id && data.get("permissioned")) await send("datanet", "set_permissioned", { datanet: id, permissioned: true }, { reload: false });
      location.href = id ? `/datanets/${id}` : "/datanets";
    });
    return false;
  }

  // The node stores only what an account on the chain signed: the file's blake2b-256 under
  // sdk.wire.content_upload_message, signed here with the selected key (the studio holds none).
  async function uploadSignature(file) {
    const current = requireKey();
    const [chain, bytes] = await Promise.all([api("/api/chain"), file.arrayBuffer()]);
    const digest = blakejs.blake2b(new Uint8Array(bytes), null, 32);
    const issuedAt = Math.floor(Date.now() / 1000);
    const message = joined([new TextEncoder().encode("payable/content-upload/v1"), unhex(chain.genesis), digest,
                            current.pair.publicKey, u64(issuedAt)]);
    return { "X-Content-Hash": hex(digest), "X-Uploader": current.public, "X-Issued-At": String(issuedAt),
             "X-Signature": hex(nacl.sign.detached(message, current.pair.secretKey)) };
  }

  async function uploadFile(file, onProgress) {
    const signed = await uploadSignature(file);
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open("POST", "/api/upload");
      request.setRequestHeader("X-CSRF-Token", csrf());
      for (const [name, value] of Object.entries(signed)) request.setRequestHeader(name, value);
      request.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded, e.total);
      request.onload = () => {
        const data = JSON.parse(request.responseText || "{}");
        request.status === 200 ? resolve(data) : reject(new Error(data.detail || request.statusText));
      };
      request.onerror = () => reject(new Error("the upload failed (network)"));
      request.send(file);
    });
  }

  async function contribute(form, datanet) {
    const file = form.file.files[0];
    const bar = document.getElementById("upload-progress");
    const status = document.getElementById("upload-status");
    try {
      requireKey();
      if (!file) throw new Error("choose a file");
      bar.hidden = false;
      const stored = await uploadFile(file, (done, total) => {
        bar.value = (100 * done) / total;
        status.textContent = `${done.toLocaleString()} / ${total.toLocaleString()} bytes`;
      });
      bar.value = 100;
      status.textContent = `stored as ${stored.hash.slice(0, 16)}… (${stored.size} bytes)`;
      await send("datanet", "contribute", { datanet, content_hash: stored.hash, size: stored.size, format: form.format.value });
    } catch (error) {
      toast(error.message, true);
    }
    return false;
  }

  function curate(action, contribution, button) {
    const reason = Number(button.closest("tr").querySelector(".reason").value || 0);
    send("datanet", action, { contribution, reason });
  }

  function requestAccess(form, datanet) {
    send("datanet", "request_access", { datanet, note: form.note.value });
    return false;
  }

  // --- ModelFactory ---------------------------------------------------------------------------
  // A job belongs to the key that starts it: the worker takes a start, an abort, a resume or a publish
  // only with the owner's signature over sdk.wire.finetune_message (the config and its prompts for a start,
  // the job id and what it asks for a try, the job id otherwise), signed here.
  function u64(value) {  // big-endian, as the signed messages of sdk.wire end with their time
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, BigInt(value));
    return out;
  }

  function joined(parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => { out.set(p, at); return at + p.length; }, 0);
    return out;
  }

  function ownerAuth(action, subject) {
    const current = requireKey();
    const issuedAt = Math.floor(Date.now() / 1000);
    const text = (t) => new TextEncoder().encode(t);
    const message = joined([text("payable/finetune/v1"), text(action), [0], subject, [0], current.pair.publicKey,
                            u64(issuedAt)]);
    return { owner: current.public, issued_at: issuedAt,
             signature: hex(nacl.sign.detached(message, current.pair.secretKey)) };
  }

  async function startJob(form) {
    const button = form.querySelector("button[type=submit]");
    if (startJob.busy) return false;  // a double click starts one job
    startJob.busy = true;
    if (button) button.disabled = true;
    try {
      const { config_json, prompts } = await api("/api/jobs/prepare", new FormData(form));
      const made = await api("/api/jobs", { config_json, prompts,
                                            ...ownerAuth("start", startSubject(config_json, prompts)) });
      location.href = `/factory/jobs/${made.job}`;
    } catch (error) {
      toast(error.message, true);
      startJob.busy = false;
      if (button) button.disabled = false;
    }
    return false;
  }

  function drawChart(points) {
    const svg = document.getElementById("loss-chart");
    const note = document.getElementById("chart-note");
    const train = points.filter((p) => p.has_loss).map((p) => [p.step, p.loss]);
    const evals = points.filter((p) => p.has_eval).map((p) => [p.step, p.eval_loss]);
    svg.replaceChildren();
    svg.dataset.points = String(points.length);
    if (train.length + evals.length < 2) {
      note.textContent = "Not enough steps yet to draw a curve.";
      return;
    }
    note.textContent = "";
    const all = [...train, ...evals];
    const maxStep = Math.max(...all.map((p) => p[0]), 1);
    const lo = Math.min(...all.map((p) => p[1]));
    const hi = Math.max(...all.map((p) => p[1]));
    const [w, h, pad] = [640, 260, 40];
    const x = (s) => pad + ((w - 2 * pad) * s) / maxStep;
    const y = (v) => h - pad - ((h - 2 * pad) * (v - lo)) / (hi - lo || 1);
    const ns = "http://www.w3.org/2000/svg";
    const add = (name, attrs, text) => {
      const el = document.createElementNS(ns, name);
      for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
      if (text !== undefined) el.textContent = text;
      svg.append(el);
    };
    add("line", { x1: pad, y1: h - pad, x2: w - pad, y2: h - pad, class: "axis" });
    add("line", { x1: pad, y1: pad, x2: pad, y2: h - pad, class: "axis" });
    add("text", { x: pad, y: pad - 8, class: "label" }, hi.toFixed(2));
    add("text", { x: pad, y: h - pad + 16, class: "label" }, lo.toFixed(2));
    add("text", { x: w - pad, y: h - pad + 16, class: "label", "text-anchor": "end" }, `step ${maxStep}`);
    const line = (series, cls) => series.length > 1 &&
      add("polyline", { points: series.map(([s, v]) => `${x(s)},${y(v)}`).join(" "), class: cls });
    line(train, "train");
    line(evals, "eval");
    evals.forEach(([s, v]) => add("circle", { cx: x(s), cy: y(v), r: 3, class: "eval" }));
    add("text", { x: w - pad, y: pad - 8, class: "legend train", "text-anchor": "end" }, "— training loss");
    add("text", { x: w - pad - 120, y: pad - 8, class: "legend eval", "text-anchor": "end" }, "● held-out loss");
  }

  function showResults(job) {
    const r = job.results || {};
    if (job.state !== "completed") return;
    const box = document.getElementById("eval-results");
    const rows = [["held-out loss", `${(r.base_eval_loss ?? NaN).toFixed(4)} (base) → ${(r.eval_loss ?? NaN).toFixed(4)}`],
      ["perplexity", `${(r.base_perplexity ?? NaN).toFixed(2)} → ${(r.perplexity ?? NaN).toFixed(2)}`],
      ["examples", `${r.train_examples} training, ${r.eval_examples} held out`],
      ["adapter hash", r.adapter_hash]];
    for (const s of r.samples || []) rows.push([`» ${s.prompt}`, s.completion]);
    const table = document.createElement("table");
    table.id = "eval-table";
    for (const [k, v] of rows) {
      const row = table.insertRow();
      row.insertCell().textContent = k;
      row.insertCell().textContent = v;
    }
    box.replaceChildren(table);
  }

  function watchJob(id) {
    let points = [];
    let timer = null;
    let asking = false;  // one question at a time: two overlapping asks (an answer slower than the 1 s
    // interval, on a busy machine) would both ask `since` the same count and append the same points twice
    const tick = async () => {
      if (asking) return;
      asking = true;
      try {
        const since = points.length;
        const data = await api(`/api/jobs/${id}?since=${since}`);
        if (since === points.length) points = points.concat(data.points);  // not restarted meanwhile
        const job = data.job;
        const state = document.getElementById("job-state");
        state.textContent = job.state;
        state.dataset.state = job.state;
        document.getElementById("job-error").textContent = job.error;
        const last = points[points.length - 1];
        const total = (last && last.total_steps) || job.total_steps || 1;
        const step = (last && last.step) || 0;
        const bar = document.getElementById("job-progress");
        bar.max = total;
        bar.value = step;
        document.getElementById("job-step").textContent = `${step}/${total}`;
        if (last) {
          document.getElementById("job-stats").textContent =
            `step ${step} · loss ${last.has_loss ? last.loss.toFixed(3) : "–"} · lr ${last.lr.toExponential(2)} · ` +
            `${Math.round(last.tokens_per_s)} tokens/s · ETA ${Math.round(last.eta_s)} s`;
        }
        drawChart(points);
        showResults(job);
        const active = ["queued", "running"].includes(job.state);
        const enable = (id, now) => {
          const button = document.getElementById(id);
          button.disabled = !now || !mayUse(button);  // the state allows it, and so does the selected key
        };
        enable("abort-job", active);
        enable("resume-job", !active && job.state !== "completed");
        for (const button of ["try-button", "export-button", "publish-button"]) enable(button, job.state === "completed");
        if (TERMINAL.includes(job.state)) { clearInterval(timer); timer = null; }
      } catch (error) {
        toast(error.message, true);
      } finally {
        asking = false;
      }
    };
    Studio.restartWatch = () => { points = []; if (!timer) timer = setInterval(tick, 1000); tick(); };
    timer = setInterval(tick, 1000);
    tick();
  }

  async function jobAction(id, action) {
    try {
      const job = await api(`/api/jobs/${id}/${action}`, ownerAuth(action, new TextEncoder().encode(id)));
      toast(`job ${id}: ${action} requested (${job.state})`);
      if (action === "resume" && Studio.restartWatch) Studio.restartWatch();
    } catch (error) {
      toast(error.message, true);
    }
  }

  // Prompts as a signature covers them (sdk.wire._prompts_bytes): each one's UTF-8 bytes after their length,
  // 8 bytes big-endian. A start signs the config's blake2b-256 and then the prompts' (sdk.wire.start_subject);
  // a try the job id, a zero byte, then the blake2b-256 of its prompts and token bound, 4 bytes big-endian
  // (sdk.wire.try_subject): a captured signature cannot ask the job anything else.
  function promptsBytes(prompts) {
    return joined(prompts.flatMap((p) => { const raw = new TextEncoder().encode(p); return [u64(raw.length), raw]; }));
  }

  function startSubject(configJson, prompts) {
    return joined([blakejs.blake2b(new TextEncoder().encode(configJson), null, 32),
                   blakejs.blake2b(promptsBytes(prompts), null, 32)]);
  }

  function trySubject(id, prompts, maxNewTokens) {
    const bound = new Uint8Array(4);
    new DataView(bound.buffer).setUint32(0, maxNewTokens);
    return joined([new TextEncoder().encode(id), [0], blakejs.blake2b(joined([promptsBytes(prompts), bound]), null, 32)]);
  }

  async function tryPrompt(form, id) {
    const out = document.getElementById("try-output");
    const prompts = [form.prompt.value];
    if (!prompts[0].trim()) {
      toast("write a prompt first", true);
      return false;
    }
    out.textContent = "generating…";
    try {
      const max_new_tokens = 40;
      const found = await api(`/api/jobs/${id}/try`, { prompts, max_new_tokens,
                                                       ...ownerAuth("try", trySubject(id, prompts, max_new_tokens)) });
      out.replaceChildren(...found.samples.map((s) => {
        const p = document.createElement("pre");
        p.className = "sample";
        p.textContent = s.completion;
        return p;
      }));
    } catch (error) {
      out.textContent = "";
      toast(error.message, true);
    }
    return false;
  }

  async function exportJob(id) {
    const out = document.getElementById("export-output");
    out.textContent = "exporting…";
    try {
      const found = await api(`/api/jobs/${id}/export`, ownerAuth("export", new TextEncoder().encode(id)));
      out.textContent = `adapter: ${found.adapter_dir} · merged: ${found.merged_dir} · merged vs base + adapter: ` +
        `${Number(found.max_logit_difference).toExponential(1)} · ${found.changed_tensors} tensors changed from the base`;
    } catch (error) {
      out.textContent = "";
      toast(error.message, true);
    }
  }

  async function publishJob(form, id) {
    const out = document.getElementById("publish-output");
    const button = form.querySelector("button[type=submit]");
    if (publishJob.busy) return false;  // a double click publishes once (one index build, one dialog)
    publishJob.busy = true;
    if (button) button.disabled = true;
    try {
      const current = requireKey();
      const auth = ownerAuth("publish", new TextEncoder().encode(id));
      out.textContent = "uploading the adapter and its config to the content store…";
      const prepared = await api(`/api/jobs/${id}/publish`, {
        ...auth, signer: current.public, price: form.price.value, split: form.split.value,
        price_per_input_token: form.price_per_input_token.value, price_per_output_token: form.price_per_output_token.value,
      });
      const result = await signPrepared(prepared);
      const made = result.events.find((e) => e.name === "modelregistry.ModelRegistered");
      out.innerHTML = "";
      const link = document.createElement("a");
      link.href = "/models";
      link.id = "published-model";
      link.textContent = `model ${made ? made.data.model : "?"} registered in block #${result.block}`;
      out.append(link);
    } catch (error) {
      out.textContent = "";
      toast(error.message, true);
    } finally {
      publishJob.busy = false;
      if (button) button.disabled = false;
    }
    return false;
  }

  // --- keys page ------------------------------------------------------------------------------
  function useDev() {
    const select = document.getElementById("dev-account");
    const option = select.options[select.selectedIndex];
    setKey(option.dataset.name, option.value);
    toast(`signing as ${option.dataset.name}`);
  }

  function importKey() {
    try {
      setKey(document.getElementById("import-name").value || "imported", document.getElementById("import-seed").value.trim());
      document.getElementById("import-seed").value = "";
      toast("key imported (kept in this browser only)");
    } catch (error) {
      toast(error.message, true);
    }
  }

  function forgetKey() {
    localStorage.removeItem(KEY);
    showKey();
  }

  document.addEventListener("DOMContentLoaded", showKey);
  // A preview of a permissioned DataNet's rows is shown only to a reader the chain allows: when one of its
  // snapshots is picked and a key is selected, the page asks for the dataset spec the preview will send,
  // signs its blake2-256 (sdk.wire.finetune_message, "preview") and only then lets htmx send the preview.
  document.addEventListener("htmx:confirm", (e) => {
    const form = document.getElementById("job-form");
    if (e.detail.path !== "/factory/preview" || !form) return;
    for (const name of ["preview_owner", "preview_issued_at", "preview_signature"]) form.elements[name].value = "";
    if (!form.querySelector("input[name=snapshots][data-permissioned]:checked") || !key()) return;
    e.preventDefault();
    api("/api/preview/prepare", new FormData(form)).then(({ spec_json }) => {
      const auth = ownerAuth("preview", blakejs.blake2b(new TextEncoder().encode(spec_json), null, 32));
      form.elements.preview_owner.value = auth.owner;
      form.elements.preview_issued_at.value = String(auth.issued_at);
      form.elements.preview_signature.value = auth.signature;
      e.detail.issueRequest(true);
    }).catch((error) => toast(error.message, true));
  });
  document.addEventListener("htmx:responseError", (e) => toast(e.detail.xhr.responseText || "request failed", true));
  return { send, createDataNet, contribute, curate, requestAccess, startJob, watchJob, jobAction, tryPrompt,
           exportJob, publishJob, useDev, importKey, forgetKey, key, api, signPrepared, toast, hex, unhex };
})();
