// Payable Studio's chain views in the browser: live blocks, balances proven here, the playground's paid
// stream and its attribution, earnings charts. Nothing is taken on the server's word where the browser can
// check it: state proofs fold to the header's state root, the header hashes to the block hash, snapshot
// proofs fold to the snapshot root. blake2b comes from the vendored blakejs, ed25519 from tweetnacl.
"use strict";

const Chain = (() => {
  const ONE_OPEN = 10n ** 18n;
  const enc = new TextEncoder();
  const { hex, unhex, api } = Studio;  // studio.js: hex codec and the JSON fetch with its errors
  const blake = (bytes, size = 32) => blakejs.blake2b(bytes, undefined, size);
  const concat = (...parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  };
  const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const u64 = (n) => { const out = new Uint8Array(8); let v = BigInt(n); for (let i = 7; i >= 0; i--) { out[i] = Number(v & 255n); v >>= 8n; } return out; };
  const el = (tag, props = {}, ...children) => {
    const node = Object.assign(document.createElement(tag), props);
    node.append(...children);
    return node;
  };

  function formatOpen(units) {
    const whole = units / ONE_OPEN, frac = units % ONE_OPEN;
    if (frac === 0n) return whole.toString();
    return `${whole}.${frac.toString().padStart(18, "0")}`.replace(/0+$/, "");
  }

  function showTimes(root = document) {
    for (const cell of root.querySelectorAll(".time[data-ms]")) {
      const ms = Number(cell.dataset.ms);
      cell.textContent = ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) : "genesis";
    }
  }

  // --- protobuf, just enough to read a header and an account record -------------------------------
  function fields(bytes) {
    const out = [];
    let at = 0;
    const varint = () => {
      let value = 0n, shift = 0n;
      for (;;) {
        const b = bytes[at++];
        if (b === undefined) throw new Error("truncated varint");
        value |= BigInt(b & 127) << shift;
        if (!(b & 128)) return value;
        shift += 7n;
      }
    };
    while (at < bytes.length) {
      const tag = Number(varint()), number = tag >> 3, wire = tag & 7;
      if (wire === 0) out.push([number, varint()]);
      else if (wire === 2) { const n = Number(varint()); out.push([number, bytes.slice(at, at + n)]); at += n; }
      else if (wire === 1) { out.push([number, bytes.slice(at, at + 8)]); at += 8; }
      else if (wire === 5) { out.push([number, bytes.slice(at, at + 4)]); at += 4; }
      else throw new Error(`unknown wire type ${wire}`);
    }
    return out;
  }
  const field = (bytes, number) => (fields(bytes).find(([n]) => n === number) || [])[1];
  const amount = (bytes) => (bytes || []).reduce((v, b) => (v << 8n) | BigInt(b), 0n);

  // --- the state proof (runtime/storage/proof.py, in the browser) ----------------------------------
  const EMPTY = new Uint8Array(32);
  const nibble = (keyHash, depth) => (depth & 1 ? keyHash[depth >> 1] & 15 : keyHash[depth >> 1] >> 4);
  const leafHash = (keyHash, valueHash) => blake(concat(Uint8Array.of(0), keyHash, valueHash));

  function foldLevel(level, slot, child) {
    const bitmap = (level[0] << 8) | level[1];
    if ((bitmap >> slot) & 1) throw new Error("a sibling claimed in the proven slot");
    let bits = 0;
    for (let i = 0; i < 16; i++) bits += (bitmap >> i) & 1;
    if (level.length !== 2 + 32 * bits) throw new Error("level length does not match its bitmap");
    const parts = [Uint8Array.of(1)];
    let offset = 2;
    for (let i = 0; i < 16; i++) {
      if (i === slot) parts.push(child);
      else if ((bitmap >> i) & 1) { parts.push(level.slice(offset, offset + 32)); offset += 32; }
      else parts.push(EMPTY);
    }
    return blake(concat(...parts));
  }

  function verifyStateProof(root, key, value, proof) {
    const levels = proof.levels.map(unhex);
    if (!levels.length || levels.length > 64) return false;
    const keyHash = blake(key);
    const otherKey = unhex(proof.other_key_hash), otherValue = unhex(proof.other_value_hash);
    let node;
    if (value !== null) {
      if (otherKey.length || otherValue.length) return false;
      node = leafHash(keyHash, blake(value));
    } else if (otherKey.length || otherValue.length) {
      if (otherKey.length !== 32 || otherValue.length !== 32 || equal(otherKey, keyHash)) return false;
      for (let d = 0; d < levels.length; d++) if (nibble(otherKey, d) !== nibble(keyHash, d)) return false;
      node = leafHash(otherKey, otherValue);
    } else node = EMPTY;
    try {
      for (let d = levels.length - 1; d >= 0; d--) node = foldLevel(levels[d], nibble(keyHash, d), node);
    } catch (error) { return false; }
    return equal(node, root);
  }

  // A DataNet snapshot proof (runtime/merkle.py): leaves 0x00-tagged, nodes 0x01-tagged, odd nodes promoted.
  function verifyMerkle(rootHex, leafHex, index, count, siblingsHex) {
    if (!(index >= 0 && index < count)) return false;
    let node = blake(concat(Uint8Array.of(0), unhex(leafHex))), width = count, used = 0;
    const proof = siblingsHex.map(unhex);
    while (width > 1) {
      if ((index ^ 1) < width) {
        if (used >= proof.length) return false;
        const sibling = proof[used++];
        node = blake(concat(Uint8Array.of(1), ...(index & 1 ? [sibling, node] : [node, sibling])));
      }
      index = Math.floor(index / 2);
      width = Math.floor((width + 1) / 2);
    }
    return used === proof.length && hex(node) === rootHex;
  }

  const HASHERS = { blake2_128_concat: (k) => concat(blake(k, 16), k), identity: (k) => k, blake2_256: (k) => blake(k) };

  async function verifyAccount(address) {
    const badge = document.getElementById("proof-badge");
    const set = (id, text) => { document.getElementById(id).textContent = text; };
    try {
      const p = await api(`/api/accounts/${encodeURIComponent(address)}/proof`);
      const header = unhex(p.header);
      if (hex(blake(header)) !== p.block_hash) throw new Error("the header bytes do not hash to the block hash");
      const stateRoot = field(header, 3);
      const hasher = HASHERS[p.hasher];
      if (!hasher) throw new Error(`unknown storage hasher ${p.hasher}`);
      const key = concat(unhex(p.prefix), hasher(unhex(p.account)));
      const value = p.exists ? unhex(p.value) : null;
      if (!stateRoot || !verifyStateProof(stateRoot, key, value, p.proof))
        throw new Error(`the Merkle proof does not fold to block #${p.block_number}'s state root`);
      const record = value || new Uint8Array();
      const unbonding = fields(record).filter(([n]) => n === 4).reduce((s, [, chunk]) => s + amount(field(chunk, 1)), 0n);
      set("bal-free", `${formatOpen(amount(field(record, 1)))} OPEN`);
      set("bal-reserved", `${formatOpen(amount(field(record, 2)))} OPEN`);
      set("bal-bonded", `${formatOpen(amount(field(record, 3)))} OPEN`);
      set("bal-unbonding", `${formatOpen(unbonding)} OPEN`);
      badge.className = "badge ok";
      badge.textContent = `✓ Proof verified in this browser against block #${p.block_number}'s state root (${hex(stateRoot).slice(0, 16)}…)`;
    } catch (error) {
      badge.className = "badge bad";
      badge.textContent = `✗ Proof check FAILED: ${error.message}. Do not trust the balances shown by this server.`;
      for (const id of ["bal-free", "bal-reserved", "bal-bonded", "bal-unbonding"]) set(id, "unverified");
    }
  }

  // --- live blocks ------------------------------------------------------------------------------------
  function liveBlocks(live) {
    showTimes();
    if (!live) return;
    const table = document.getElementById("blocks");
    const body = table.querySelector("tbody");
    let best = Number(table.dataset.best);
    const status = document.getElementById("live-status");
    const tick = async () => {
      try {
        const data = await api(`/api/blocks?after=${best}`);
        for (const b of data.blocks.reverse()) {
          if (b.number <= best) continue;
          const row = el("tr", {}, el("td", {}, el("a", { href: `/explorer/blocks/${b.number}`, textContent: `#${b.number}` })),
            el("td", { className: "mono", textContent: `${b.hash.slice(0, 16)}…` }),
            el("td", { className: "time" }), el("td", { textContent: b.extrinsics }), el("td", { textContent: b.events }));
          row.dataset.block = b.number;
          row.querySelector(".time").dataset.ms = b.time_ms;
          row.classList.add("new");
          body.prepend(row);
          best = b.number;
        }
        while (body.rows.length > 50) body.deleteRow(-1);
        showTimes(body);
        status.textContent = `Live: best block #${best}.`;
      } catch (error) {
        status.textContent = `Cannot reach the studio (${error.message}); retrying…`;
      }
    };
    setInterval(tick, 1000);
  }

  // --- the playground ----------------------------------------------------------------------------------
  function selectedModel() {
    const option = document.getElementById("play-model")?.selectedOptions[0];
    return option ? JSON.parse(option.dataset.price) : null;
  }

  function showPrice() {
    const select = document.getElementById("play-model");
    if (!select) return;
    const update = () => {
      const m = selectedModel();
      const classifier = m.kind === "classifier";
      document.getElementById("for-adapter").hidden = classifier;
      document.getElementById("for-classifier").hidden = !classifier;
      const tokens = classifier ? "" : ` + ${m.input_token} per input token + ${m.output_token} per output token`;
      document.getElementById("price").textContent = `Price: ${m.flat} OPEN per request${tokens}. ` +
        `Split: contributors ${m.split.contributors / 100}%, owner ${m.split.owner / 100}%, protocol ${m.split.protocol / 100}%, worker ${m.split.worker / 100}%. Attribution: ${m.method}.`;
      document.getElementById("play-go").textContent = classifier ? "Pay and classify" : "Pay and generate";
    };
    select.addEventListener("change", update);
    drawGrid();
    update();
  }

  // An 8×8 grid that writes 64 features in [0, 1] (the digits classifiers' input), cell by cell.
  function drawGrid() {
    const grid = document.getElementById("draw-grid"), box = document.getElementById("play-features");
    if (!grid) return;
    const values = new Array(64).fill(0);
    const cycle = { 0: 1, 1: 0.5, 0.5: 0 };
    grid.replaceChildren(...values.map((_, i) => {
      const cell = el("button", { type: "button", className: "cell" });
      cell.setAttribute("aria-label", `row ${Math.floor(i / 8) + 1}, column ${(i % 8) + 1}`);
      cell.setAttribute("aria-pressed", "false");
      cell.dataset.cell = i;
      cell.addEventListener("click", () => {
        values[i] = cycle[values[i]];
        cell.style.setProperty("--ink", values[i]);
        cell.setAttribute("aria-pressed", values[i] ? "true" : "false");
        box.value = values.join(" ");
      });
      return cell;
    }));
  }

  async function play(form) {
    const progress = document.getElementById("play-progress");
    const button = document.getElementById("play-go");
    const step = (text) => { progress.textContent = text; };
    button.disabled = true;
    try {
      const current = Studio.key();
      if (!current) throw new Error("choose a key first (Keys page)");
      const classifier = selectedModel().kind === "classifier";
      step("Preparing the payment…");
      const all = Object.fromEntries(new FormData(form));
      const fields = classifier ? { model: all.model, features: all.features }
        : { model: all.model, prompt: all.prompt, max_new_tokens: all.max_new_tokens, temperature: all.temperature };
      const prepared = await api("/api/playground/prepare", { ...fields, signer: current.public });
      step(`Escrow up to ${prepared.escrow} OPEN: sign to pay.`);
      const result = await Studio.signPrepared(prepared);
      const { request } = await api(`/api/generations/by-extrinsic/${result.hash}`);
      let tokens = null;
      if (!classifier) {
        step(`Request ${request} paid in block #${result.block}; streaming from the worker…`);
        tokens = await streamTokens(request, current);
        step(`Generated ${tokens.length} tokens; waiting for the workers' results to settle on chain…`);
      } else step(`Request ${request} paid in block #${result.block}; waiting for the workers' results to settle on chain…`);
      const outcome = await waitSettled(request);
      step(outcome.status === "settled" ? `Request ${request} settled in block #${outcome.settlement.block}.`
        : `Request ${request} ${outcome.status}: the escrow was refunded.`);
      showOutcome(outcome, tokens);
    } catch (error) {
      step("");
      Studio.toast(error.message, true);
    } finally {
      button.disabled = false;
    }
  }

  async function streamTokens(request, current) {
    const chain = await api("/api/chain");
    const issuedAt = Math.floor(Date.now() / 1000);
    const message = concat(enc.encode("payable/stream-read/v1"), unhex(chain.genesis), u64(request),
      current.pair.publicKey, u64(issuedAt));
    const signature = hex(nacl.sign.detached(message, current.pair.secretKey));
    const answer = document.getElementById("answer");
    document.getElementById("outcome").hidden = false;
    answer.replaceChildren();
    const tokens = [];
    return new Promise((resolve, reject) => {
      const source = new EventSource(`/api/generations/${request}/stream?requester=${current.public}&issued_at=${issuedAt}&signature=${signature}`);
      source.addEventListener("token", (e) => {
        const { text } = JSON.parse(e.data);
        tokens.push(text);
        answer.append(el("span", { className: "tok", textContent: text }));
      });
      source.addEventListener("end", (e) => {
        source.close();
        const end = JSON.parse(e.data);
        if (end.error) reject(new Error(end.error));
        else resolve(tokens);
      });
      source.onerror = () => { source.close(); reject(new Error("the stream broke off (the worker went away?)")); };
    });
  }

  async function waitSettled(request) {
    for (let i = 0; i < 600; i++) {
      const outcome = await api(`/api/generations/${request}`);
      if (outcome.status !== "pending") return outcome;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`request ${request} did not settle in 5 minutes`);
  }

  // The answer with its spans highlighted, OLMoTrace-style; contributions beside it, each proof checked here.
  function showOutcome(outcome, tokens) {
    document.getElementById("outcome").hidden = false;
    const answer = document.getElementById("answer");
    const list = document.getElementById("contributions");
    const a = outcome.attribution;
    if (!a) {
      document.getElementById("settle-summary").textContent = outcome.status === "expired"
        ? "No worker answered in time: the whole escrow went back to the requester." : "Not settled yet.";
      return;
    }
    const spanOf = a.spans.map((s, i) => ({ ...s, id: i }));
    if (a.label !== null && a.label !== undefined) {
      answer.replaceChildren(el("strong", { id: "prediction", textContent: `class ${a.label}` }));
    } else if (tokens) {
      answer.replaceChildren();
      let t = 0;
      while (t < tokens.length) {
        const span = spanOf.find((s) => s.start === t);
        if (span) {
          const mark = el("mark", { className: "span", tabIndex: 0, title: `seen ${span.count}× in the data` },
            tokens.slice(t, t + span.length).join(""));
          mark.dataset.span = span.id;
          mark.dataset.contributions = span.contributions.join(",");
          mark.setAttribute("role", "button");
          mark.setAttribute("aria-label", `span ${span.id + 1}: show its contributions`);
          answer.append(mark);
          t += Math.max(span.length, 1);
        } else { answer.append(el("span", { className: "tok", textContent: tokens[t] })); t += 1; }
      }
    } else {
      answer.replaceChildren(...(spanOf.length ? spanOf.map((s) => {
        const mark = el("mark", { className: "span", tabIndex: 0, textContent: `tokens ${s.start}–${s.start + s.length - 1}` });
        mark.dataset.span = s.id;
        mark.dataset.contributions = s.contributions.join(",");
        return mark;
      }) : [el("span", { className: "meta", textContent: "(no verbatim spans)" })]));
    }
    document.getElementById("span-hint").textContent = a.label !== null && a.label !== undefined
      ? "The class the worker computed and signed (its output hash on chain binds it)."
      : spanOf.length
      ? `${spanOf.length} span(s) reproduced verbatim from the training data are highlighted: select one to see whose contributions it came from.`
      : "No span of this answer appears verbatim in the training data; the credit below comes from the gradient method.";
    document.getElementById("answer-meta").textContent = `${a.label !== null && a.label !== undefined ? "Classified" : `${a.output_tokens} output tokens`}, signed by the worker in extrinsic ${a.extrinsic.slice(0, 16)}…`;
    document.getElementById("attr-method").textContent = `Method: ${a.method}. Shares are of the contributors' pool.`;
    list.replaceChildren(...a.contributions.map((c) => {
      let ok;
      try { ok = verifyMerkle(c.proof.root, c.proof.leaf, c.proof.index, c.proof.count, c.proof.siblings); } catch (error) { ok = false; }
      const leafContributor = hex(field(unhex(c.proof.leaf), 2) || []);
      const item = el("li", { className: "contribution", tabIndex: 0 },
        el("strong", { textContent: `${(c.share_ppb / 1e7).toFixed(2)}%` }), " · contribution ",
        el("span", { textContent: `#${c.contribution}` }), " in ",
        el("a", { href: `/earnings/datanets/${c.datanet}`, textContent: `DataNet ${c.datanet} v${c.version}` }), " by ",
        el("a", { className: "addr", href: `/earnings/contributors/${c.contributor}`, textContent: `${c.contributor.slice(0, 10)}…` }), " ",
        el("span", { className: ok ? "badge ok proof" : "badge bad proof",
          textContent: ok ? "✓ snapshot proof verified" : "✗ snapshot proof FAILED" }));
      item.dataset.contribution = c.contribution;
      item.dataset.leafContributor = leafContributor;
      item.setAttribute("role", "button");
      return item;
    }));
    wireSpans(answer, list);
    showSettlement(outcome);
  }

  function wireSpans(answer, list) {
    const showAll = document.getElementById("show-all");
    const filter = (ids) => {
      for (const item of list.children) item.hidden = ids !== null && !ids.includes(item.dataset.contribution);
      showAll.hidden = ids === null;
    };
    const pickSpan = (mark) => {
      for (const m of answer.querySelectorAll("mark.span")) m.classList.toggle("active", m === mark);
      filter(mark.dataset.contributions.split(",").filter(Boolean));
    };
    const pickContribution = (item) => {
      for (const i of list.children) i.classList.toggle("active", i === item);
      for (const m of answer.querySelectorAll("mark.span"))
        m.classList.toggle("located", m.dataset.contributions.split(",").includes(item.dataset.contribution));
    };
    for (const mark of answer.querySelectorAll("mark.span")) {
      mark.addEventListener("click", () => pickSpan(mark));
      mark.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pickSpan(mark); } });
    }
    for (const item of list.children) {
      item.addEventListener("click", (e) => { if (e.target.tagName !== "A") pickContribution(item); });
      item.addEventListener("keydown", (e) => { if (e.key === "Enter") pickContribution(item); });
    }
    showAll.onclick = () => { filter(null); for (const m of answer.querySelectorAll("mark.span")) m.classList.remove("active"); };
  }

  function showSettlement(outcome) {
    const s = outcome.settlement;
    document.getElementById("settle-summary").textContent =
      `Escrowed ${s.escrow} OPEN; charged ${s.fee} OPEN${outcome.attribution.output_tokens ? " for the real token counts" : " (the flat price)"}; ${s.refund} OPEN refunded to the requester in the same block.`;
    const rows = s.payments.map((p) => el("tr", {},
      el("td", {}, el("a", { className: "addr", href: `/explorer/accounts/${p.account}`, textContent: `${p.account.slice(0, 10)}…` })),
      el("td", { textContent: p.role }), el("td", { className: "amount", textContent: `${p.amount} OPEN` }),
      el("td", { textContent: p.contribution ? `contribution #${p.contribution} (DataNet ${p.datanet})` : "" })));
    rows.push(el("tr", { className: "refund" }, el("td", {}, el("a", { className: "addr", href: `/explorer/accounts/${outcome.requester}`, textContent: `${outcome.requester.slice(0, 10)}…` })),
      el("td", { textContent: "refund" }), el("td", { className: "amount", textContent: `${s.refund} OPEN` }), el("td", { textContent: "unused escrow" })));
    document.querySelector("#payments tbody").replaceChildren(...rows);
    const links = document.getElementById("settle-links");
    links.replaceChildren("Every line is an ", el("code", { textContent: "attribution.Paid" }), " event in ",
      el("a", { href: `/explorer/blocks/${s.block}#events`, id: "settle-block", textContent: `block #${s.block}` }),
      "; the worker's signed result is ", el("a", { href: `/explorer/extrinsics/${outcome.attribution.extrinsic}`, textContent: "its extrinsic" }),
      "; ", el("a", { href: `/requests/${outcome.request}`, textContent: "permalink" }), ".");
  }

  // --- earnings chart: cumulative OPEN per DataNet or model, by block ----------------------------------
  function earningsChart() {
    const data = JSON.parse(document.getElementById("earnings-data").textContent);
    const svg = document.getElementById("earnings-chart");
    const draw = (by) => {
      const series = new Map();
      for (const item of data.payouts) {
        const parts = by === "model" ? { [`model #${item.model}`]: BigInt(item.units) }
          : Object.fromEntries(Object.entries(item.datanets).map(([k, v]) => [`DataNet ${k}`, BigInt(v)]));
        for (const [name, units] of Object.entries(parts)) {
          const points = series.get(name) || [];
          const last = points.length ? points[points.length - 1][1] : 0n;
          points.push([item.block, last + units]);
          series.set(name, points);
        }
      }
      const W = 720, H = 260, L = 110, B = 30, R = 12;
      const blocks = data.payouts.map((i) => i.block);
      const x0 = Math.max(0, Math.min(...blocks, data.best) - 1), x1 = Math.max(data.best, ...blocks, x0 + 1);
      const top = [...series.values()].reduce((m, pts) => (pts[pts.length - 1][1] > m ? pts[pts.length - 1][1] : m), 1n);
      const x = (b) => L + ((b - x0) / Math.max(1, x1 - x0)) * (W - L - R);
      const y = (u) => H - B - Number((u * 1000n) / top) / 1000 * (H - B - 20);
      const ns = "http://www.w3.org/2000/svg";
      const make = (tag, attrs, text) => { const n = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v); if (text) n.textContent = text; return n; };
      const colors = ["#2457d6", "#d9822b", "#2a9d5c", "#9b3fd1", "#c0392b"];
      const nodes = [make("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }), make("line", { x1: L, y1: 20, x2: L, y2: H - B, class: "axis" }),
        make("text", { x: L - 6, y: 24, class: "label", "text-anchor": "end" }, formatOpen(top)),
        make("text", { x: L - 6, y: H - B, class: "label", "text-anchor": "end" }, "0 OPEN"),
        make("text", { x: L, y: H - 8, class: "label" }, `block #${x0}`),
        make("text", { x: W - R, y: H - 8, class: "label", "text-anchor": "end" }, `block #${x1}`)];
      [...series.entries()].forEach(([name, points], i) => {
        const color = colors[i % colors.length];
        const steps = [[x0, 0n]];  // cumulative earnings as a step line, held up to the best block
        for (const [b, u] of points) steps.push([b, steps[steps.length - 1][1]], [b, u]);
        steps.push([x1, steps[steps.length - 1][1]]);
        nodes.push(make("polyline", { points: steps.map(([b, u]) => `${x(b).toFixed(1)},${y(u).toFixed(1)}`).join(" "), stroke: color, "data-series": name }));
        nodes.push(make("text", { x: L + 10, y: 40 + 16 * i, fill: color, class: "legend" }, `${name}: ${formatOpen(points[points.length - 1][1])} OPEN`));
      });
      if (!data.payouts.length) nodes.push(make("text", { x: L + 20, y: H / 2, class: "label" }, "No earnings yet."));
      svg.replaceChildren(...nodes);
    };
    for (const radio of document.querySelectorAll("input[name=by]")) radio.addEventListener("change", () => draw(radio.value));
    draw("datanet");
  }

  document.addEventListener("DOMContentLoaded", () => showTimes());
  return { liveBlocks, verifyAccount, showPrice, play, showOutcome, earningsChart, formatOpen, verifyMerkle };
})();
