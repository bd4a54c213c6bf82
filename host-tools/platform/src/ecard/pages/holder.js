"use strict";
// The holder's page (docs/electronic-card.md, "The pages"): log in with the existing login API,
// show the card face, a live QR code that is fetched again when its validity runs out, and the
// family members with their codes. The session token lives in this closure only: never in
// storage, never in the URL. Every piece of data goes into the page with textContent; the QR
// code's SVG is shown through an <img> (a data: URL), where it cannot run anything.
(() => {
  const $ = (id) => document.getElementById(id);
  const REQUEST_TIMEOUT_MS = 15000;
  const LEVELS = {
    "1": "level 1: identification and queries",
    "2": "level 2: identification, queries and payment",
  };
  const CONSENT = {
    own: "with their own consent",
    guardian: "added by a guardian",
  };

  let session = null; // { token, ecard }
  const liveCodes = [];

  class ApiError extends Error {
    constructor(status, code, reason) {
      super(reason);
      this.status = status;
      this.code = code;
    }
  }

  // A JSON request to the back office, bounded in time; a refusal becomes an ApiError carrying
  // the service's sentence.
  async function api(method, path, body) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (session) headers.Authorization = "Bearer " + session.token;
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
        cache: "no-store",
        credentials: "omit",
      });
    } catch (e) {
      throw new ApiError(0, "unreachable", "the back office did not answer: " + e.message);
    } finally {
      clearTimeout(timer);
    }
    let answer = null;
    try {
      answer = await response.json();
    } catch (e) {
      answer = null;
    }
    if (!response.ok) {
      const reason = answer && typeof answer.reason === "string"
        ? answer.reason
        : "the back office answered " + response.status;
      throw new ApiError(response.status, answer && answer.error, reason);
    }
    return answer;
  }

  function maskSsn(ssn) {
    const text = String(ssn);
    if (text.length <= 8) return "*".repeat(text.length);
    return text.slice(0, 4) + "*".repeat(text.length - 8) + text.slice(-4);
  }

  function isoDate(yyyymmdd) {
    const d = String(yyyymmdd);
    return /^[0-9]{8}$/.test(d) ? d.slice(0, 4) + "-" + d.slice(4, 6) + "-" + d.slice(6) : d;
  }

  // One code on screen: fetched, shown, counted down, and fetched again at zero. `prefix` names
  // its elements: PREFIX-image, PREFIX-text, PREFIX-countdown, PREFIX-error.
  class LiveCode {
    constructor(prefix, path) {
      this.prefix = prefix;
      this.path = path;
      this.timer = null;
      this.deadline = 0;
      this.stopped = false;
      this.figure = $(prefix);
      this.figure.dataset.refreshes = "0";
      this.clear();
    }

    clear() {
      $(this.prefix + "-image").removeAttribute("src");
      $(this.prefix + "-text").textContent = "";
      $(this.prefix + "-countdown").textContent = "";
      $(this.prefix + "-error").textContent = "";
    }

    async fetch() {
      clearInterval(this.timer);
      this.timer = null;
      let answer;
      try {
        answer = await api("GET", this.path);
      } catch (e) {
        if (this.stopped) return;
        // The code on screen has expired: it must not stay visible.
        this.clear();
        if (e.status === 401) {
          logOut("Your session ended: " + e.message);
        } else {
          $(this.prefix + "-error").textContent = "No code: " + e.message;
        }
        return;
      }
      if (this.stopped) return;
      const svg = typeof answer.svg === "string" ? answer.svg : "";
      $(this.prefix + "-image").src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svg);
      $(this.prefix + "-text").textContent = answer.code;
      $(this.prefix + "-error").textContent = "";
      // The validity as the service counts it, measured on this page's own monotonic clock, so a
      // phone whose clock is wrong still counts down correctly.
      const validity = Math.max(1, Number(answer.expires_at) - Number(answer.issued_at));
      this.deadline = performance.now() + validity * 1000;
      this.figure.dataset.refreshes = String(Number(this.figure.dataset.refreshes) + 1);
      this.tick();
      this.timer = setInterval(() => this.tick(), 200);
    }

    tick() {
      if (this.stopped) return;
      const left = Math.ceil((this.deadline - performance.now()) / 1000);
      $(this.prefix + "-countdown").textContent = String(Math.max(left, 0));
      if (left <= 0) this.fetch();
    }

    stop() {
      this.stopped = true;
      clearInterval(this.timer);
      this.clear();
    }
  }

  function stopCodes() {
    while (liveCodes.length) liveCodes.pop().stop();
  }

  function startCode(prefix, path) {
    const code = new LiveCode(prefix, path);
    liveCodes.push(code);
    code.fetch();
    return code;
  }

  function codePath(ecardId) {
    return "/api/v1/ecard/" + encodeURIComponent(ecardId) + "/qr?render=svg";
  }

  function showFace(ecard) {
    $("face-name").textContent = ecard.name;
    $("face-ssn").textContent = maskSsn(ecard.ssn);
    $("face-card-number").textContent = ecard.card_number;
    $("face-region").textContent = ecard.region;
    $("face-validity").textContent = isoDate(ecard.card_expiry_date);
    $("face-level").textContent = LEVELS[ecard.level] || "level " + ecard.level;
  }

  let memberCode = null;

  function showMemberCode(member) {
    if (memberCode) {
      memberCode.stop();
      liveCodes.splice(liveCodes.indexOf(memberCode), 1);
    }
    $("member-qr-name").textContent = member.name;
    $("member-qr").hidden = false;
    memberCode = startCode("member-qr", codePath(member.ecard_id));
  }

  // data-loaded on the family section: "error" or "shown" once the list was asked for.
  async function loadFamily() {
    const list = $("members");
    list.replaceChildren();
    delete $("family").dataset.loaded;
    $("family-error").textContent = "";
    $("member-qr").hidden = true;
    let family;
    try {
      family = await api("GET", "/api/v1/ecard/" + encodeURIComponent(session.ecard.id) + "/family");
    } catch (e) {
      if (!session) return;
      if (e.status === 401) {
        logOut("Your session ended: " + e.message);
        return;
      }
      $("family").hidden = false;
      $("family-error").textContent = "The family members could not be read: " + e.message;
      $("family").dataset.loaded = "error";
      return;
    }
    // Logged out while the list was on its way: nothing to show.
    if (!session) return;
    const members = Array.isArray(family.members) ? family.members : [];
    $("family-limit").textContent =
      members.length + " of at most " + family.limit + " family members";
    for (const member of members) {
      const item = document.createElement("li");
      item.className = "member";
      item.dataset.ecard = member.ecard_id;
      const name = document.createElement("span");
      name.className = "member-name";
      name.textContent = member.name;
      const about = document.createElement("span");
      about.className = "member-about";
      about.textContent = " (" + member.relationship + ", " +
        (CONSENT[member.consent] || member.consent) + ") ";
      const show = document.createElement("button");
      show.type = "button";
      show.className = "show-code";
      show.textContent = "Show code";
      show.addEventListener("click", () => showMemberCode(member));
      item.append(name, about, show);
      list.append(item);
    }
    $("family").hidden = false;
    $("family").dataset.loaded = "shown";
  }

  function logOut(message) {
    stopCodes();
    memberCode = null;
    session = null;
    for (const id of ["face-name", "face-ssn", "face-card-number", "face-region",
      "face-validity", "face-level"]) {
      $(id).textContent = "";
    }
    $("members").replaceChildren();
    delete $("family").dataset.loaded;
    $("card").hidden = true;
    $("family").hidden = true;
    $("login").hidden = false;
    $("error").textContent = message || "";
    document.body.dataset.state = "login";
  }

  async function logIn(event) {
    event.preventDefault();
    const password = $("password").value;
    $("password").value = "";
    $("error").textContent = "";
    document.body.dataset.state = "logging-in";
    let answer;
    try {
      answer = await api("POST", "/api/v1/ecard/login", {
        name: $("name").value.trim(),
        ssn: $("ssn").value.trim(),
        password,
      });
    } catch (e) {
      $("error").textContent = "Not logged in: " + e.message;
      document.body.dataset.state = "login";
      return;
    }
    session = { token: answer.token, ecard: answer.ecard };
    showFace(answer.ecard);
    $("login").hidden = true;
    $("card").hidden = false;
    document.body.dataset.state = "card";
    startCode("qr", codePath(answer.ecard.id));
    loadFamily();
  }

  $("login").addEventListener("submit", logIn);
  $("logout").addEventListener("click", () => logOut(""));
})();
