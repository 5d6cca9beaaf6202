// A real TypeScript-SDK MCP client (the one the Inspector and Claude Code are built on): lists the
// tools, so the SDK holds their output schemas, then calls each tool; the SDK validates every
// structuredContent against its tool's outputSchema and throws if it does not match.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const [command, ...args] = process.argv.slice(2);
const client = new Client({ name: "ts-sdk-check", version: "1.0.0" });
await client.connect(new StdioClientTransport({ command, args, stderr: "ignore" }));
const tools = (await client.listTools()).tools;
const calls = [
  ["remember", { content: "My favourite editor is Neovim", occurred_at: "2024-03-01" }],
  ["recall", { query: "which editor do I use" }],
  ["recall", { query: "What is my passport number?" }],
];
const results = [];
for (const [name, args] of calls) {
  const result = await client.callTool({ name, arguments: args });
  results.push({ name, isError: result.isError ?? false, structuredContent: result.structuredContent, text: result.content[0].text });
}
const forgotten = results[0].structuredContent.memory.id;
const forget = await client.callTool({ name: "forget", arguments: { ids: [forgotten] } });
results.push({ name: "forget", isError: forget.isError ?? false, structuredContent: forget.structuredContent, text: forget.content[0].text });
console.log(JSON.stringify({ tools: tools.map((t) => t.name), results }));
await client.close();
