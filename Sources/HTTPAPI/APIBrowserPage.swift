/// The interactive API browser served at /api/browser: one self-contained page (inline CSS and JS,
/// no external resources) that gets a token, lists the operations of /api/ver1.0/openapi.json,
/// and sends requests with the parameters a person types in.
enum APIBrowserPage {
    static let html: String = ##"""
    <!DOCTYPE html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>QualityRate API browser</title>
    <style>
      :root {
        --bg: #f4f6f9; --card: #ffffff; --ink: #1d2430; --muted: #5d6b7e; --line: #d9dfe7;
        --accent: #2457c5; --accent-ink: #ffffff; --ok: #1d7a46; --warn: #a15c00; --bad: #b42318;
        --code-bg: #0f1722; --code-ink: #dce3ec;
      }
      * { box-sizing: border-box; }
      html, body { margin: 0; padding: 0; }
      body { background: var(--bg); color: var(--ink); font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
      header { display: flex; align-items: baseline; gap: 16px; padding: 14px 24px; background: #17233a; color: #fff; }
      header h1 { margin: 0; font-size: 19px; font-weight: 650; letter-spacing: .2px; }
      header h1 span { font-weight: 400; color: #aebbd0; }
      header nav { margin-left: auto; font-size: 13px; }
      header a { color: #c9d6ff; }
      main { display: grid; grid-template-columns: minmax(340px, 480px) minmax(0, 1fr); gap: 18px; padding: 18px 24px 32px; align-items: start; }
      @media (max-width: 900px) { main { grid-template-columns: 1fr; } }
      .col { display: flex; flex-direction: column; gap: 18px; min-width: 0; }
      .card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px; box-shadow: 0 1px 2px rgba(16, 24, 40, .04); min-width: 0; }
      .card h2 { margin: 0 0 12px; font-size: 13px; text-transform: uppercase; letter-spacing: .08em; color: var(--muted); font-weight: 650; }
      .grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 10px 12px; }
      label { display: block; font-size: 13px; font-weight: 600; margin: 0 0 4px; }
      label .hint { font-weight: 400; color: var(--muted); }
      input, select, textarea { width: 100%; font: inherit; color: inherit; background: #fff; border: 1px solid #c3ccd8; border-radius: 6px; padding: 7px 9px; }
      input:focus, select:focus, textarea:focus { outline: 2px solid rgba(36, 87, 197, .35); border-color: var(--accent); }
      input.mono, textarea, #token { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 13px; }
      textarea { min-height: 120px; resize: vertical; }
      button { font: inherit; font-weight: 600; border: 0; border-radius: 6px; padding: 8px 16px; cursor: pointer; background: var(--accent); color: var(--accent-ink); }
      button:hover { filter: brightness(1.08); }
      button:disabled { opacity: .6; cursor: progress; }
      .row { display: flex; align-items: center; gap: 12px; margin-top: 12px; flex-wrap: wrap; }
      .note { font-size: 13px; color: var(--muted); }
      .note.error { color: var(--bad); }
      .note.ok { color: var(--ok); }
      .field { margin-top: 10px; }
      .field .desc { font-size: 12.5px; color: var(--muted); margin-top: 3px; }
      .desc code, #operation-description code { font: 12px ui-monospace, Menlo, Consolas, monospace; background: #eef1f5; border-radius: 3px; padding: 0 3px; }
      .tag { display: inline-block; font-size: 11px; font-weight: 600; border-radius: 4px; padding: 0 5px; margin-left: 4px; background: #eef1f5; color: var(--muted); vertical-align: 1px; }
      .tag.req { background: #fdecea; color: var(--bad); }
      .method { display: inline-block; min-width: 46px; text-align: center; font: 700 12px/1.9 ui-monospace, Menlo, Consolas, monospace; border-radius: 4px; color: #fff; background: #6b7785; padding: 0 6px; }
      .method.GET { background: #2457c5; } .method.POST { background: #1d7a46; } .method.PUT { background: #b25e00; } .method.DELETE { background: #b42318; }
      .op-head { display: flex; align-items: center; gap: 8px; margin-top: 12px; }
      .op-head code { font-size: 13px; word-break: break-all; }
      #operation-description { font-size: 13.5px; color: #38465a; margin: 8px 0 0; white-space: pre-line; }
      #operation-description:empty { display: none; }
      #params:empty::before { content: "This operation has no parameters."; font-size: 13px; color: var(--muted); }
      .status-line { display: flex; align-items: baseline; gap: 12px; flex-wrap: wrap; min-height: 28px; }
      #response-status { font: 700 18px/1.3 ui-monospace, Menlo, Consolas, monospace; }
      #response-status.s2 { color: var(--ok); } #response-status.s3 { color: var(--accent); }
      #response-status.s4 { color: var(--warn); } #response-status.s5, #response-status.err { color: var(--bad); }
      #response-meta { font-size: 13px; color: var(--muted); }
      #request-line { display: block; font: 12.5px/1.4 ui-monospace, Menlo, Consolas, monospace; color: #38465a; background: #eef1f5; border-radius: 6px; padding: 7px 9px; margin-top: 10px; word-break: break-all; }
      #request-line:empty { display: none; }
      #response-body { margin: 12px 0 0; background: var(--code-bg); color: var(--code-ink); border-radius: 8px; padding: 14px 16px; font: 12.5px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; overflow: auto; max-height: calc(100vh - 190px); min-height: 160px; white-space: pre; }
      #response-body .k { color: #8cc4ff; } #response-body .s { color: #b5e39d; } #response-body .n { color: #ffc66d; } #response-body .l { color: #f29bd4; }
      .sticky { position: sticky; top: 18px; }
    </style>
    </head>
    <body>
    <header>
      <h1>QualityRate <span>API browser</span></h1>
      <nav><a href="/api/ver1.0/openapi.json" target="_blank" rel="noopener">openapi.json</a></nav>
    </header>
    <main>
      <div class="col">
        <section class="card" aria-labelledby="h-token">
          <h2 id="h-token">1 · Access token</h2>
          <form id="token-form" autocomplete="off">
            <div class="grid2">
              <div><label for="app-id">App id</label><input id="app-id" class="mono" spellcheck="false"></div>
              <div><label for="app-secret">App secret</label><input id="app-secret" type="password" class="mono" spellcheck="false"></div>
              <div><label for="username">Username <span class="hint">(optional)</span></label><input id="username" spellcheck="false"></div>
              <div><label for="password">Password <span class="hint">(optional)</span></label><input id="password" type="password"></div>
            </div>
            <div class="row">
              <button id="get-token" type="submit">Get token</button>
              <span id="token-status" class="note">Without a username: client_credentials grant; with one: password grant.</span>
            </div>
          </form>
          <div class="field">
            <label for="token">Bearer token <span class="hint">(filled in by “Get token”, or paste one)</span></label>
            <input id="token" spellcheck="false" autocomplete="off" placeholder="access_token">
          </div>
        </section>

        <section class="card" aria-labelledby="h-op">
          <h2 id="h-op">2 · Operation</h2>
          <label for="operation">Operation</label>
          <select id="operation"><option value="">Loading the API description…</option></select>
          <div class="op-head"><span id="op-method" class="method"></span><code id="op-path"></code></div>
          <p id="operation-description"></p>
        </section>

        <section class="card" aria-labelledby="h-params">
          <h2 id="h-params">3 · Parameters</h2>
          <div id="params"></div>
          <div id="body-wrap" class="field" hidden>
            <label for="body">Request body <span id="body-type" class="hint"></span></label>
            <textarea id="body" spellcheck="false"></textarea>
          </div>
          <div class="row"><button id="send" type="button">Send</button><span id="send-note" class="note"></span></div>
        </section>
      </div>

      <div class="col">
        <section class="card sticky" aria-labelledby="h-resp">
          <h2 id="h-resp">4 · Response</h2>
          <div class="status-line"><span id="response-status"></span><span id="response-meta" class="note">Pick an operation and press Send.</span></div>
          <code id="request-line"></code>
          <pre id="response-body"></pre>
        </section>
      </div>
    </main>
    <script>
    (function () {
      "use strict";
      var SPEC_URL = "/api/ver1.0/openapi.json";
      var DISPLAY_LIMIT = 2000000;      // characters of a response shown; the rest is cut
      var HIGHLIGHT_LIMIT = 300000;     // above this, no colouring (keeps big answers fast)
      var $ = function (id) { return document.getElementById(id); };
      var spec = null;
      var operations = {};              // "GET /path" -> {method, path, op, params}
      var remembered = {};              // parameter name -> last value typed, kept across operations
      try { var saved = localStorage.getItem("qualityrate.client_id"); if (saved) { remembered.client_id = saved; } } catch (e) { /* storage disabled */ }

      function escapeHTML(s) {
        return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
      }

      // The few Markdown marks the OpenAPI descriptions use: `code` and **bold**.
      function markdown(text) {
        return escapeHTML(text)
          .replace(/`([^`]+)`/g, "<code>$1</code>")
          .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>");
      }

      function resolve(obj) {
        var guard = 0;
        while (obj && typeof obj.$ref === "string" && guard++ < 32) {
          var parts = obj.$ref.replace(/^#\//, "").split("/");
          var cur = spec;
          for (var i = 0; i < parts.length && cur; i++) { cur = cur[parts[i].replace(/~1/g, "/").replace(/~0/g, "~")]; }
          obj = cur;
        }
        return obj || {};
      }

      function schemaOf(param) {
        var s = resolve(param.schema || {});
        return s;
      }

      function needsAuth(op) {
        var sec = op.security !== undefined ? op.security : (spec.security || []);
        return sec.length > 0;
      }

      function loadSpec() {
        fetch(SPEC_URL, { headers: { "Accept": "application/json" }, cache: "no-store" })
          .then(function (res) {
            if (!res.ok) { throw new Error("HTTP " + res.status); }
            return res.json();
          })
          .then(function (doc) { spec = doc; buildOperations(); })
          .catch(function (err) {
            $("operation").innerHTML = "<option value=\"\">Could not load " + SPEC_URL + "</option>";
            showStatus("", "err", "Could not load the API description (" + err.message + ").");
          });
      }

      function buildOperations() {
        var select = $("operation");
        select.innerHTML = "";
        var groups = {};
        var order = [];
        (spec.tags || []).forEach(function (t) { order.push(t.name); });
        var methods = ["get", "post", "put", "patch", "delete"];
        Object.keys(spec.paths || {}).forEach(function (path) {
          var item = spec.paths[path];
          methods.forEach(function (m) {
            var op = item[m];
            if (!op) { return; }
            var method = m.toUpperCase();
            var key = method + " " + path;
            var params = {};
            (item.parameters || []).concat(op.parameters || []).forEach(function (p) {
              p = resolve(p);
              params[p.in + ":" + p.name] = p;
            });
            operations[key] = {
              key: key, method: method, path: path, op: op,
              params: Object.keys(params).map(function (k) { return params[k]; })
                .sort(function (a, b) { return (a.in === "path" ? 0 : 1) - (b.in === "path" ? 0 : 1); })
            };
            var tag = (op.tags && op.tags[0]) || "Other";
            if (!groups[tag]) { groups[tag] = []; if (order.indexOf(tag) < 0) { order.push(tag); } }
            groups[tag].push(key);
          });
        });
        order.forEach(function (tag) {
          if (!groups[tag]) { return; }
          var og = document.createElement("optgroup");
          og.label = tag;
          groups[tag].forEach(function (key) {
            var o = operations[key];
            var opt = document.createElement("option");
            opt.value = key;
            opt.textContent = key + (o.op.summary ? "  —  " + o.op.summary : "");
            og.appendChild(opt);
          });
          select.appendChild(og);
        });
        var wanted = decodeURIComponent((location.hash || "").slice(1));
        var preferred = operations[wanted] ? wanted : firstWith("listRatings") || Object.keys(operations)[0];
        if (preferred) { select.value = preferred; }
        renderOperation();
      }

      function firstWith(operationId) {
        var keys = Object.keys(operations);
        for (var i = 0; i < keys.length; i++) { if (operations[keys[i]].op.operationId === operationId) { return keys[i]; } }
        return null;
      }

      function placeholderFor(param, schema) {
        if (param.example !== undefined) { return String(param.example); }
        if (schema.example !== undefined) { return String(schema.example); }
        if (schema.type === "integer") { return "integer"; }
        return "";
      }

      function renderOperation() {
        var entry = operations[$("operation").value];
        var box = $("params");
        box.innerHTML = "";
        if (!entry) { return; }
        $("op-method").textContent = entry.method;
        $("op-method").className = "method " + entry.method;
        $("op-path").textContent = entry.path;
        var desc = entry.op.description || "";
        if (needsAuth(entry.op)) { desc += (desc ? "\n" : "") + "Needs the Bearer token."; }
        $("operation-description").innerHTML = markdown(desc);

        entry.params.forEach(function (p) {
          if (p.in !== "path" && p.in !== "query") { return; }
          var schema = schemaOf(p);
          var wrap = document.createElement("div");
          wrap.className = "field";
          var label = document.createElement("label");
          label.htmlFor = "param-" + p.name;
          label.innerHTML = escapeHTML(p.name) + " <span class=\"tag\">" + p.in + "</span>" +
            (p.required ? " <span class=\"tag req\">required</span>" : "");
          var input;
          var choices = schema.type === "boolean" ? ["true", "false"] : (Array.isArray(schema.enum) ? schema.enum.map(String) : null);
          if (choices) {
            input = document.createElement("select");
            var blank = document.createElement("option");
            blank.value = "";
            blank.textContent = "(not sent)";
            input.appendChild(blank);
            choices.forEach(function (c) {
              var o = document.createElement("option");
              o.value = c; o.textContent = c;
              input.appendChild(o);
            });
          } else {
            input = document.createElement("input");
            input.className = "mono";
            input.spellcheck = false;
            input.autocomplete = "off";
            input.placeholder = placeholderFor(p, schema);
          }
          input.id = "param-" + p.name;
          input.name = p.name;
          input.dataset.in = p.in;
          if (remembered[p.name] !== undefined) { input.value = remembered[p.name]; }
          var remember = function () {
            remembered[p.name] = input.value;
            if (p.name === "client_id") { try { localStorage.setItem("qualityrate.client_id", input.value); } catch (e) { /* ignore */ } }
          };
          input.addEventListener("input", remember);
          input.addEventListener("change", remember);
          input.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { ev.preventDefault(); send(); } });
          wrap.appendChild(label);
          wrap.appendChild(input);
          if (p.description) {
            var d = document.createElement("div");
            d.className = "desc";
            d.innerHTML = markdown(p.description);
            wrap.appendChild(d);
          }
          box.appendChild(wrap);
        });

        var rb = resolve(entry.op.requestBody);
        var content = rb && rb.content ? rb.content : null;
        var mediaType = content ? Object.keys(content)[0] : null;
        $("body-wrap").hidden = !mediaType;
        $("body").dataset.mediaType = mediaType || "";
        $("body-type").textContent = mediaType ? "(" + mediaType + ")" : "";
        if (mediaType) {
          var media = content[mediaType];
          var example = media.example !== undefined ? media.example : resolve(media.schema).example;
          var text = "";
          if (mediaType === "application/x-www-form-urlencoded") {
            var form = new URLSearchParams();
            Object.keys(example || {}).forEach(function (k) { form.set(k, example[k]); });
            if ($("app-id").value) { form.set("client_id", $("app-id").value); }
            if ($("app-secret").value) { form.set("client_secret", $("app-secret").value); }
            text = form.toString();
          } else if (example !== undefined) {
            text = JSON.stringify(example, null, 2);
          }
          $("body").value = text;
        } else {
          $("body").value = "";
        }
        $("send-note").textContent = "";
      }

      function showStatus(text, cls, meta) {
        var el = $("response-status");
        el.textContent = text;
        el.className = cls || "";
        $("response-meta").textContent = meta || "";
      }

      function highlight(json) {
        return escapeHTML(json).replace(/("(\\u[a-fA-F0-9]{4}|\\[^u]|[^\\"])*"(\s*:)?|\b(true|false|null)\b|-?\d+(\.\d+)?([eE][+\-]?\d+)?)/g, function (m) {
          var cls = "n";
          if (m.charAt(0) === "\"") { cls = /:$/.test(m) ? "k" : "s"; }
          else if (/true|false|null/.test(m)) { cls = "l"; }
          return "<span class=\"" + cls + "\">" + m + "</span>";
        });
      }

      function showBody(text, contentType) {
        var pre = $("response-body");
        var shown = text;
        var isJSON = /json/i.test(contentType || "");
        var note = "";
        if (isJSON && text.length <= DISPLAY_LIMIT) {
          try {
            var value = JSON.parse(text);
            shown = JSON.stringify(value, null, 2);
            if (Array.isArray(value)) { note = value.length + (value.length === 1 ? " record" : " records"); }
          } catch (e) { isJSON = false; }
        }
        if (shown.length > DISPLAY_LIMIT) {
          shown = shown.slice(0, DISPLAY_LIMIT) + "\n… (cut: " + text.length + " characters in all; use limit= to page)";
          isJSON = false;
        }
        if (isJSON && shown.length <= HIGHLIGHT_LIMIT) { pre.innerHTML = highlight(shown); } else { pre.textContent = shown; }
        return note;
      }

      function send() {
        var entry = operations[$("operation").value];
        if (!entry) { return; }
        var path = entry.path;
        var query = new URLSearchParams();
        var missing = [];
        entry.params.forEach(function (p) {
          var el = $("param-" + p.name);
          if (!el) { return; }
          var v = el.value.trim();
          if (p.in === "path") {
            if (v === "") { missing.push(p.name); }
            path = path.split("{" + p.name + "}").join(encodeURIComponent(v));
          } else if (p.in === "query" && v !== "") {
            query.append(p.name, v);
          }
        });
        if (missing.length) {
          $("send-note").textContent = "Fill in " + missing.join(", ") + ".";
          $("send-note").className = "note error";
          var first = $("param-" + missing[0]); if (first) { first.focus(); }
          return;
        }
        $("send-note").textContent = "";
        $("send-note").className = "note";
        var qs = query.toString();
        var url = path + (qs ? "?" + qs : "");
        var headers = { "Accept": "application/json" };
        var token = $("token").value.trim();
        if (needsAuth(entry.op) && token) { headers["Authorization"] = "Bearer " + token; }
        var init = { method: entry.method, headers: headers, cache: "no-store" };
        var mediaType = $("body").dataset.mediaType;
        if (mediaType && !$("body-wrap").hidden) {
          headers["Content-Type"] = mediaType;
          init.body = $("body").value;
        }
        $("request-line").textContent = entry.method + " " + url + (headers.Authorization ? "   (Authorization: Bearer …)" : "");
        showStatus("…", "", "Sending…");
        $("response-body").textContent = "";
        $("send").disabled = true;
        var started = performance.now();
        fetch(url, init).then(function (res) {
          return res.text().then(function (text) {
            var ms = Math.round(performance.now() - started);
            var ct = res.headers.get("Content-Type") || "";
            var note = showBody(text, ct);
            var meta = [ms + " ms", ct, note].filter(Boolean).join(" · ");
            var auth = res.headers.get("WWW-Authenticate");
            if (auth) { meta += " · WWW-Authenticate: " + auth; }
            showStatus(res.status + (res.statusText ? " " + res.statusText : ""), "s" + String(res.status).charAt(0), meta);
          });
        }).catch(function (err) {
          showStatus("Network error", "err", err.message);
        }).then(function () { $("send").disabled = false; });
      }

      function getToken(ev) {
        ev.preventDefault();
        var form = new URLSearchParams();
        var user = $("username").value.trim();
        var grant = user ? "password" : "client_credentials";
        form.set("grant_type", grant);
        form.set("client_id", $("app-id").value.trim());
        form.set("client_secret", $("app-secret").value);
        if (user) { form.set("username", user); form.set("password", $("password").value); }
        var status = $("token-status");
        status.className = "note";
        status.textContent = "Asking /oauth/token…";
        $("get-token").disabled = true;
        fetch("/oauth/token", {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json" },
          body: form.toString(),
          cache: "no-store"
        }).then(function (res) {
          return res.text().then(function (text) {
            var data = null;
            try { data = JSON.parse(text); } catch (e) { /* not JSON */ }
            if (res.ok && data && data.access_token) {
              $("token").value = data.access_token;
              status.className = "note ok";
              status.textContent = "Got a " + grant + " token, valid for " + data.expires_in + " s" +
                (data.refresh_token ? " (with a refresh token)" : "") + ".";
            } else {
              status.className = "note error";
              status.textContent = res.status + ": " + (data && data.error ? data.error + " — " + (data.error_description || "") : text.slice(0, 200));
            }
          });
        }).catch(function (err) {
          status.className = "note error";
          status.textContent = "Network error: " + err.message;
        }).then(function () { $("get-token").disabled = false; });
      }

      $("token-form").addEventListener("submit", getToken);
      $("operation").addEventListener("change", function () {
        renderOperation();
        if (history.replaceState) { history.replaceState(null, "", "#" + encodeURIComponent($("operation").value)); }
      });
      $("send").addEventListener("click", send);
      loadSpec();
    })();
    </script>
    </body>
    </html>
    """##
}
