"use strict";
// The pharmacy's scanner page (docs/electronic-card.md, "The pages"): the terminal's credential
// is entered once and kept in this closure only; each pasted or scanned code is verified online
// (POST /api/v1/ecard/verify) and the answer shown: the holder's identity, or the refusal in
// words, a distinct sentence for each reason. Data goes into the page with textContent only.
(() => {
  const $ = (id) => document.getElementById(id);
  const REQUEST_TIMEOUT_MS = 15000;

  // The service's refusal codes in words for the person at the counter.
  const REFUSALS = {
    "expired": "Refused: the code has expired. Ask the holder to show the code on their screen now.",
    "replayed": "Refused: this code has already been used. Ask the holder for a new code.",
    "bad-signature": "Refused: the code has been tampered with (its signature does not match).",
    "malformed": "Refused: this is not a complete e-card code (damaged, cut short or altered).",
    "unknown-key": "Refused: the code is signed with a key the platform does not know.",
    "not-yet-valid": "Refused: the code is dated in the future. Check this terminal's clock.",
    "validity-too-long": "Refused: the code claims a longer validity than the platform allows.",
    "card-lost": "Refused: the card is reported lost. Its e-card does not work.",
    "card-temporarily-lost": "Refused: the card is reported lost (temporarily). Its e-card does not work.",
    "card-cancelled": "Refused: the card is cancelled. Its e-card does not work.",
    "card-sealed": "Refused: the card is sealed. Its e-card does not work.",
    "card-expired": "Refused: the card has expired. Its e-card does not work.",
    "card-not-activated": "Refused: the card is not activated. Its e-card does not work yet.",
    "card-blocked": "Refused: the card is on the blacklist. Its e-card does not work.",
    "unknown-ecard": "Refused: the code names an e-card the platform does not hold.",
    "level-1": "Refused: this e-card cannot pay (no linked settlement account).",
    "wrong-purpose": "Refused: this code is not for this use.",
  };
  const CREDENTIAL_REFUSALS = ["credential-missing", "credential-invalid", "role-not-allowed"];
  const PURPOSES = { identity: "identification", payment: "payment" };

  let credential = null;

  function maskSsn(ssn) {
    const text = String(ssn);
    if (text.length <= 8) return "*".repeat(text.length);
    return text.slice(0, 4) + "*".repeat(text.length - 8) + text.slice(-4);
  }

  function clearResult() {
    $("result").dataset.outcome = "";
    delete $("result").dataset.reason;
    $("verdict").textContent = "";
    $("verdict").className = "";
    $("detail").textContent = "";
    $("identity").hidden = true;
    for (const id of ["id-name", "id-ssn", "id-card-number", "id-purpose", "id-shown-by"]) {
      $(id).textContent = "";
    }
  }

  function needCredential(message) {
    credential = null;
    $("scan").hidden = true;
    $("terminal").hidden = false;
    $("terminal-state").textContent = message;
    document.body.dataset.state = "credential";
    $("credential").focus();
  }

  function useCredential(event) {
    event.preventDefault();
    const value = $("credential").value.trim();
    $("credential").value = "";
    if (!value) return;
    credential = value;
    $("terminal").hidden = true;
    $("scan").hidden = false;
    $("terminal-state").textContent = "";
    document.body.dataset.state = "ready";
    $("code").focus();
  }

  function accepted(answer) {
    $("result").dataset.outcome = "accepted";
    $("verdict").className = "accepted";
    $("verdict").textContent = "Verified: the e-card is genuine and works.";
    $("id-name").textContent = answer.name;
    $("id-ssn").textContent = maskSsn(answer.ssn);
    $("id-card-number").textContent = answer.card_number;
    $("id-purpose").textContent = PURPOSES[answer.purpose] || answer.purpose;
    $("id-shown-by").textContent = answer.shown_by
      ? "a family account: the app of e-card " + answer.shown_by
      : "the holder";
    $("identity").hidden = false;
    if (answer.settlement_token) {
      $("detail").textContent = "A one-time settlement token was issued for this payment.";
    }
  }

  function refused(code, reason) {
    $("result").dataset.outcome = "refused";
    $("result").dataset.reason = code || "";
    $("verdict").className = "alert";
    $("verdict").textContent = REFUSALS[code] || "Refused: " + reason;
    $("detail").textContent = "The platform says: " + reason;
  }

  async function verify(event) {
    event.preventDefault();
    const code = $("code").value.trim();
    $("code").value = "";
    if (!code || credential === null) return;
    clearResult();
    document.body.dataset.state = "verifying";
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    let response;
    let answer = null;
    try {
      response = await fetch("/api/v1/ecard/verify", {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          Authorization: "Bearer " + credential,
        },
        body: JSON.stringify({ code }),
        signal: controller.signal,
        cache: "no-store",
        credentials: "omit",
      });
      answer = await response.json().catch(() => null);
    } catch (e) {
      refused("unreachable", "the back office did not answer: " + e.message);
      $("verdict").textContent = "Not verified: the back office did not answer. Try again.";
      document.body.dataset.state = "ready";
      $("code").focus();
      return;
    } finally {
      clearTimeout(timer);
    }
    document.body.dataset.state = "ready";
    $("code").focus();
    if (response.ok && answer) {
      accepted(answer);
      return;
    }
    const errorCode = answer && typeof answer.error === "string" ? answer.error : "";
    const reason = answer && typeof answer.reason === "string"
      ? answer.reason
      : "the back office answered " + response.status;
    if (CREDENTIAL_REFUSALS.includes(errorCode)) {
      needCredential("The terminal credential was not accepted: " + reason);
      return;
    }
    refused(errorCode, reason);
  }

  $("terminal").addEventListener("submit", useCredential);
  $("scan").addEventListener("submit", verify);
  $("forget").addEventListener("click", () => {
    clearResult();
    needCredential("Credential forgotten. Enter this terminal's credential.");
  });
})();
