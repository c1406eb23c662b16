// Streamia's web client: one page, hash routes (#/, #/movies/<id>, #/login,
// #/register), the gateway's /api on the same origin. No framework: the DOM
// is built with el(), text always as text (never HTML), so nothing the API
// returns can inject markup.
"use strict";

const session = {
  get() { try { return JSON.parse(localStorage.getItem("streamia.session")); } catch { return null; } },
  set(s) { s ? localStorage.setItem("streamia.session", JSON.stringify(s)) : localStorage.removeItem("streamia.session"); },
};

// The API's error in plain words: its message, and each field's.
class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    const fields = (e.details || []).map((d) => `${d.field}: ${d.message}`);
    super([e.message || `The server answered ${status}.`, ...fields].join(" — "));
    this.status = status;
    this.code = e.code;
  }
}

let refreshing = null;
// An expired access token is renewed once with the refresh token, silently.
async function refresh() {
  const s = session.get();
  if (!s) return false;
  refreshing ??= fetch("/api/users/refresh", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ refreshToken: s.refreshToken }),
  }).then(async (r) => {
    if (!r.ok) { session.set(null); return false; }
    const t = await r.json();
    session.set({ ...s, accessToken: t.accessToken, refreshToken: t.refreshToken });
    return true;
  }).finally(() => { refreshing = null; });
  return refreshing;
}

async function api(method, path, body, retried) {
  const headers = {};
  const s = session.get();
  if (s) headers.authorization = `Bearer ${s.accessToken}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let r;
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, { error: { message: "The server cannot be reached; check your connection." } });
  }
  if (r.status === 401 && s && !retried && !path.startsWith("/api/users/login") && (await refresh())) {
    return api(method, path, body, true);
  }
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== false && v != null) node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.flat(Infinity).filter((c) => c != null));
  return node;
}

function notice(message) {
  const box = document.getElementById("notice");
  box.textContent = message || "";
  box.hidden = !message;
}

function show(...nodes) {
  const view = document.getElementById("view");
  view.replaceChildren(...nodes);
  view.focus();
}

function account() {
  const s = session.get();
  const slot = document.getElementById("account");
  slot.replaceChildren(...(s
    ? [el("span", {}, `Signed in as ${s.user.username}`), " ",
       el("button", { type: "button", class: "secondary", onclick: signOut }, "Sign out")]
    : [el("a", { href: "#/login" }, "Sign in"), " ", el("a", { href: "#/register" }, "Create account")]));
}

async function signOut() {
  const s = session.get();
  if (s) await api("POST", "/api/users/logout", { refreshToken: s.refreshToken }).catch(() => {});
  session.set(null);
  location.hash = "#/";
  route();
}

function poster(movie) {
  return movie.posterUrl
    ? el("img", { class: "poster", src: movie.posterUrl, alt: `Poster of ${movie.title}` })
    : el("div", { class: "poster", role: "img", "aria-label": `No poster for ${movie.title}` }, movie.title);
}

async function catalogue(params, render) {
  const query = new URLSearchParams(params);
  if (!query.get("limit")) query.set("limit", "12");
  const list = await api("GET", `/api/movies?${query}`);
  const form = el("form", { class: "search", role: "search", onsubmit: (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(e.target)) if (v) next.set(k, v);
    location.hash = `#/?${next}`;
  } },
    el("label", { for: "q" }, "Search titles"),
    el("input", { id: "q", name: "search", type: "search", value: query.get("search") || "" }),
    el("label", { for: "genre" }, "Genre"),
    el("input", { id: "genre", name: "genre", value: query.get("genre") || "" }),
    el("label", { for: "year" }, "Year"),
    el("input", { id: "year", name: "year", inputmode: "numeric", size: 4, value: query.get("year") || "" }),
    el("button", { type: "submit" }, "Search"));
  const { page, totalPages, total } = list.pagination;
  const go = (p) => { query.set("page", p); return `#/?${query}`; };
  render(
    el("h1", {}, "Catalogue"), form,
    el("p", { class: "muted" }, `${total} ${total === 1 ? "movie" : "movies"}`),
    el("ul", { class: "grid" }, list.data.map((m) => el("li", {},
      el("a", { href: `#/movies/${m.id}` }, poster(m),
        el("div", { class: "card-body" }, el("strong", {}, m.title), el("div", { class: "muted" },
          `${m.releaseYear} · ★ ${m.averageRating.toFixed(1)} (${m.totalRatings})`)))))),
    el("nav", { class: "pager", "aria-label": "Pages" },
      page > 1 ? el("a", { href: go(page - 1) }, "← Previous") : null,
      el("span", {}, `Page ${page} of ${Math.max(totalPages, 1)}`),
      page < totalPages ? el("a", { href: go(page + 1) }, "Next →") : null));
}

async function moviePage(id, render) {
  const movie = await api("GET", `/api/movies/${encodeURIComponent(id)}`);
  const s = session.get();
  const player = movie.videoUrl
    ? el("video", { controls: true, preload: "metadata", src: movie.videoUrl, crossorigin: "anonymous" },
        movie.subtitles.map((t) => el("track", { kind: "subtitles", src: t.url, srclang: t.language, label: t.label || t.language })))
    : el("div", { class: "placeholder", role: "img", "aria-label": "No video yet" }, "No video for this movie yet");
  const actions = [];
  if (s) {
    const fav = await api("GET", `/api/favorites/${movie.id}/check`);
    actions.push(el("button", { type: "button", "aria-pressed": String(fav.isFavorite), onclick: async () => {
      await api(fav.isFavorite ? "DELETE" : "POST", `/api/favorites/${movie.id}`);
      route();
    } }, fav.isFavorite ? "Remove from favourites" : "Add to favourites"));
    actions.push(el("form", { onsubmit: async (e) => {
      e.preventDefault();
      await api("POST", `/api/ratings/${movie.id}`, { score: Number(new FormData(e.target).get("score")) });
      notice("Thanks: your rating is saved (the average follows in a moment).");
      route(true);
    } }, el("label", { for: "score" }, "Your rating"),
      el("select", { id: "score", name: "score" }, [1, 2, 3, 4, 5].map((n) => el("option", { value: n }, `${n} ★`))),
      " ", el("button", { type: "submit" }, "Rate")));
  } else {
    actions.push(el("p", {}, el("a", { href: "#/login" }, "Sign in"), " to rate it and keep it in your favourites."));
  }
  render(el("article", { class: "movie" }, poster(movie), el("div", {},
    el("h1", {}, movie.title),
    el("p", { class: "muted" }, [movie.releaseYear, movie.genres.join(", "), movie.director].filter(Boolean).join(" · ")),
    el("p", {}, `★ ${movie.averageRating.toFixed(1)} from ${movie.totalRatings} ${movie.totalRatings === 1 ? "rating" : "ratings"}`),
    el("p", {}, movie.description), player, ...actions)));
}

function authForm(kind, render) {
  const register = kind === "register";
  const fields = register ? [["email", "E-mail", "email"], ["username", "Username", "text"], ["password", "Password", "password"]]
    : [["email", "E-mail", "email"], ["password", "Password", "password"]];
  render(el("form", { class: "auth", onsubmit: async (e) => {
    e.preventDefault();
    const body = Object.fromEntries(new FormData(e.target));
    const s = await api("POST", register ? "/api/users/register" : "/api/users/login", body);
    session.set({ user: s.user, accessToken: s.accessToken, refreshToken: s.refreshToken });
    location.hash = "#/";
  } }, el("h1", {}, register ? "Create an account" : "Sign in"),
    fields.map(([name, text, type]) => [el("label", { for: name }, text),
      el("input", { id: name, name, type, required: true, autocomplete: name === "password" ? (register ? "new-password" : "current-password") : name })]),
    el("p", {}, el("button", { type: "submit" }, register ? "Create account" : "Sign in"))));
}

// A view shows only while its route is the current one: a slow answer for
// a page the person already left never replaces the page they are on.
let routeId = 0;

async function route(keepNotice) {
  const id = ++routeId;
  const render = (...nodes) => { if (id === routeId) show(...nodes); };
  if (!keepNotice) notice("");
  account();
  const [path, query] = (location.hash.slice(1) || "/").split("?");
  const parts = path.split("/").filter(Boolean);
  try {
    if (parts[0] === "movies" && parts[1]) await moviePage(parts[1], render);
    else if (parts[0] === "login") authForm("login", render);
    else if (parts[0] === "register") authForm("register", render);
    else await catalogue(Object.fromEntries(new URLSearchParams(query || "")), render);
  } catch (e) {
    if (id === routeId) notice(e.message);
  }
}

// Errors from forms and buttons (outside route()) are shown the same way.
window.addEventListener("unhandledrejection", (e) => { notice(e.reason && e.reason.message); e.preventDefault(); });
window.addEventListener("hashchange", () => route());
document.addEventListener("DOMContentLoaded", () => route());
