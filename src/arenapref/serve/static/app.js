// The page's only job: send the three texts to /v1/compare and draw the answer. No external assets.
"use strict";

const $ = (id) => document.getElementById(id);
const VERDICTS = { A: "Answer A", B: "Answer B", tie: "Tie" };

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

function describeError(status, body) {
  if (body && Array.isArray(body.detail)) {
    return body.detail.map((d) => `${(d.loc || []).filter((x) => x !== "body").join(".") || "request"}: ${d.msg}`).join("; ");
  }
  return `request failed (HTTP ${status})`;
}

function draw(scores) {
  const parts = { a: scores.winner_model_a, b: scores.winner_model_b, tie: scores.winner_tie };
  for (const [key, p] of Object.entries(parts)) {
    const pct = (100 * p).toFixed(1) + "%";
    $(`bar-${key}`).style.width = pct;
    $(`pct-${key}`).textContent = pct;
  }
  $("verdict").textContent = VERDICTS[scores.verdict] || scores.verdict;
  drawExplanation(scores.explanation);
  $("result").hidden = false;
}

// the reasons behind the verdict (only when asked for); runs that cannot explain say so
function drawExplanation(explanation) {
  const list = $("reasons");
  list.replaceChildren();
  $("why").hidden = !explanation;
  if (!explanation) return;
  for (const reason of explanation.reasons || []) {
    const item = document.createElement("li");
    item.className = reason.favours === "A" ? "favours-a" : "favours-b";
    item.textContent = `${reason.text} (favours ${reason.favours}, ${reason.weight >= 0 ? "+" : ""}${reason.weight.toFixed(2)})`;
    list.appendChild(item);
  }
  $("why-note").textContent = explanation.available
    ? (explanation.reasons.length ? "weights: contribution to the log-odds of A over B" : "no single feature stands out")
    : explanation.message;
}

async function compare(event) {
  event.preventDefault();
  $("error").hidden = true;
  $("submit").disabled = true;
  try {
    const response = await fetch("/v1/compare", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ prompt: $("prompt").value, response_a: $("response-a").value, response_b: $("response-b").value,
        explain: $("explain").checked }),
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      showError(describeError(response.status, body));
      return;
    }
    draw(body);
  } catch (err) {
    showError(`could not reach the service: ${err}`);
  } finally {
    $("submit").disabled = false;
  }
}

async function describeModel() {
  try {
    const info = await (await fetch("/v1/model")).json();
    const m = info.metrics || {};
    const loss = typeof m.log_loss === "number" ? `, CV log loss ${m.log_loss.toFixed(4)}` : "";
    $("model-line").textContent = `model: ${info.model}${loss} (uniform guess: 1.0986)`;
  } catch (err) {
    $("model-line").textContent = "model: unknown";
  }
}

$("compare-form").addEventListener("submit", compare);
describeModel();
