// llm_stub: a stand-in for an Ollama server on loopback, for the one thing
// that cannot run here (a model). It speaks Ollama's wire protocol: POST
// /api/chat streamed as NDJSON (message.content pieces, then a done line
// with prompt_eval_count and eval_count) and GET /api/tags. Each chat call
// takes the next scripted reply; calls are counted and their bodies kept.

import { createServer } from "node:http";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class LlmStub {
  constructor(replies, pieceDelayMs = 40) {
    this.replies = replies.slice();
    this.pieceDelayMs = pieceDelayMs;
    this.calls = [];
  }

  async start() {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${this.server.address().port}`;
    return this;
  }

  async handle(req, res) {
    let body = "";
    for await (const chunk of req) body += chunk;
    if (req.method === "GET" && req.url === "/api/tags") {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ models: [{ name: "llama3.1:latest", model: "llama3.1:latest" }] }));
      return;
    }
    if (req.method !== "POST" || req.url !== "/api/chat") {
      res.writeHead(404, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: "not found" }));
      return;
    }
    const request = JSON.parse(body);
    this.calls.push(request);
    const reply = this.replies.shift() ?? "```sql\nSELECT 1;\n```";
    const model = request.model;
    res.writeHead(200, { "Content-Type": "application/x-ndjson" });
    const pieces = reply.match(/[\s\S]{1,12}/g) || [];
    for (const piece of pieces) {
      res.write(JSON.stringify({ model, created_at: new Date().toISOString(),
        message: { role: "assistant", content: piece }, done: false }) + "\n");
      await sleep(this.pieceDelayMs);
    }
    res.end(JSON.stringify({ model, created_at: new Date().toISOString(),
      message: { role: "assistant", content: "" }, done: true, done_reason: "stop",
      prompt_eval_count: 1200, eval_count: pieces.length * 3, total_duration: 1000000 }) + "\n");
  }

  async stop() {
    if (this.server) await new Promise((r) => this.server.close(r));
  }
}
