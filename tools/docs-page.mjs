// Opens the reference page in Debian's Chromium (headless, through playwright-core) and
// checks that it shows every operation's summary (each tag opened in the menu in turn)
// with no console error (a Content-Security-Policy violation is one), no failed request
// and no 4xx/5xx answer. Usage: node tools/docs-page.mjs <base URL>
// <openapi.json> <screenshot.png>. Exits non-zero with what went wrong.
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const [base, documentPath, screenshot] = process.argv.slice(2);
const document = JSON.parse(readFileSync(documentPath, "utf8"));
const summaries = Object.values(document.paths).flatMap((item) =>
  Object.values(item).filter((op) => op && op.summary).map((op) => op.summary),
);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  // This machine's network is closed: no background connections, no sandbox as root.
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
const problems = [];
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) => problems.push(`request failed: ${request.url()}`));
  page.on("response", (answer) => {
    if (answer.status() >= 400) problems.push(`${answer.status()} from ${answer.url()}`);
  });
  const response = await page.goto(`${base}/api/docs`, { waitUntil: "load" });
  if (response?.status() !== 200) problems.push(`GET /api/docs answered ${response?.status()}`);
  // The menu shows one tag's operations at a time: open each tag, read what it lists.
  const seen = new Set();
  for (const tag of (document.tags ?? []).map((t) => t.name)) {
    await page.getByText(tag, { exact: true }).first().click();
    const summariesOfTag = Object.values(document.paths).flatMap((item) =>
      Object.values(item).filter((op) => op?.tags?.includes(tag)).map((op) => op.summary));
    await page
      .waitForFunction((wanted) => wanted.every((s) => document.body.innerText.includes(s)), summariesOfTag,
        { timeout: 10000 })
      .catch(() => problems.push(`the operations of ${tag} did not all show within 10 s`));
    const text = await page.evaluate(() => document.body.innerText);
    for (const summary of summariesOfTag) if (text.includes(summary)) seen.add(summary);
  }
  for (const summary of summaries) {
    if (!seen.has(summary)) problems.push(`missing on the page: ${summary}`);
  }
  await page.screenshot({ path: screenshot, fullPage: false });
  console.log(JSON.stringify({ operations: summaries.length, problems }));
} finally {
  await browser.close();
}
process.exit(problems.length === 0 ? 0 : 1);
