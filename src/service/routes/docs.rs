//! `GET /openapi.json` and `GET /docs`: the API document and a readable
//! page for it. The page is self-contained (no CDN, no bundled UI crate that
//! downloads at build time): a little script that renders the JSON.

use actix_web::HttpResponse;

use crate::service::openapi::document;

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(document())
}

pub async fn docs() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(DOCS_HTML)
}

const DOCS_HTML: &str = r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sonica API</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{margin-bottom:.2rem} .op{border:1px solid #ddd;border-radius:6px;margin:1rem 0;padding:.6rem 1rem}
.m{display:inline-block;min-width:4.5rem;font-weight:bold;text-transform:uppercase}
.get{color:#0a6}.post{color:#06c}.delete{color:#c30} code,pre{background:#f5f5f5;padding:0 .2rem}
pre{padding:.5rem;overflow:auto} table{border-collapse:collapse} td{padding:.1rem .6rem;vertical-align:top}
</style></head><body>
<h1>Sonica API</h1><p id="desc"></p><p>Machine-readable: <a href="/openapi.json">/openapi.json</a></p>
<div id="ops">Loading…</div>
<script>
const esc = s => String(s ?? "").replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;"}[c]));
const ref = (doc, s) => s && s.$ref ? doc.components.schemas[s.$ref.split("/").pop()] : s;
fetch("/openapi.json").then(r => r.json()).then(doc => {
  document.getElementById("desc").textContent = doc.info.description || "";
  let html = "";
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      html += `<div class="op"><span class="m ${method}">${method}</span><code>${esc(path)}</code>`;
      if (op.description || op.summary) html += `<p>${esc(op.summary || "")} ${esc(op.description || "")}</p>`;
      if (op.parameters) html += "<p>Parameters: " + op.parameters.map(p => `<code>${esc(p.name)}</code> (${esc(p.in)}) ${esc(p.description || "")}`).join("; ") + "</p>";
      if (op.requestBody) html += `<p>Body: ${esc(Object.keys(op.requestBody.content || {}).join(", "))}. ${esc(op.requestBody.description || "")}</p>`;
      html += "<table>";
      for (const [code, r] of Object.entries(op.responses || {})) {
        const c = r.content && Object.values(r.content)[0];
        const schema = c && ref(doc, c.schema);
        const fields = schema && schema.properties ? Object.keys(schema.properties).join(", ") : "";
        html += `<tr><td><b>${esc(code)}</b></td><td>${esc(r.description || "")}${fields ? ` <code>{${esc(fields)}}</code>` : ""}</td></tr>`;
      }
      html += "</table></div>";
    }
  }
  document.getElementById("ops").innerHTML = html;
}).catch(e => { document.getElementById("ops").textContent = "Could not load /openapi.json: " + e; });
</script></body></html>"##;
