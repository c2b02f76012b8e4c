// Loads a page in headless Debian chromium (via playwright-core), saves a full-page screenshot,
// and prints what rendered as JSON for the Python test to assert on.
// usage: node inspect_page.mjs URL SCREENSHOT.png
import { chromium } from "playwright-core";

const [url, screenshot] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu"] });
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const dialogs = [];
  const consoleErrors = [];
  page.on("dialog", async (dialog) => { dialogs.push(dialog.message()); await dialog.dismiss(); });
  page.on("console", (message) => { if (message.type() === "error") consoleErrors.push(message.text()); });
  const response = await page.goto(url, { waitUntil: "load" });
  const facts = await page.evaluate(() => {
    const box = (el) => { const r = el.getBoundingClientRect(); return { width: r.width, height: r.height }; };
    return {
      title: document.title,
      keys: [...document.querySelectorAll(".slo")].map((el) => el.dataset.key),
      headings: [...document.querySelectorAll(".slo h3")].map((el) => el.textContent),
      states: [...document.querySelectorAll(".slo .state")].map((el) => el.textContent),
      charts: [...document.querySelectorAll("svg.chart")].map((svg) => ({
        box: box(svg),
        estimate: [...svg.querySelectorAll("polyline.estimate")].map(box),
        band: [...svg.querySelectorAll("polygon.band")].map(box),
        objective: svg.querySelectorAll("line.objective").length,
      })),
      openAlerts: [...document.querySelectorAll("#open-alerts tr")].length - 1,
      actions: [...document.querySelectorAll("#actions tr")].slice(1).map((tr) => tr.innerText),
      reportLinks: [...document.querySelectorAll("a")].filter((a) => a.textContent === "report").map((a) => a.getAttribute("href")),
      scripts: document.querySelectorAll("script").length,
      xssFlag: window.__xss === true,
    };
  });
  await page.screenshot({ path: screenshot, fullPage: true });
  let report = null;
  if (facts.reportLinks.length) {
    const reportResponse = await page.goto(new URL(facts.reportLinks[0], url).href);
    report = { status: reportResponse.status(), text: (await page.textContent("body")).slice(0, 200) };
  }
  console.log(JSON.stringify({ status: response.status(), dialogs, consoleErrors, report, ...facts }));
} finally {
  await browser.close();
}
