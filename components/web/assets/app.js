// Streamia's web client: one page, hash routes (#/, #/movies/<id>, #/login,
// #/register, #/forgot, #/favorites, #/profile, #/admin, #/admin/members...),
// plus the path /reset-password that password-reset e-mails link to; the
// gateway's /api on the same origin. No framework: the DOM is built with
// el(), text always as text (never HTML), so nothing the API returns can
// inject markup.
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

// JSON in and out; a FormData body goes as multipart (uploads).
async function api(method, path, body, retried) {
  const headers = {};
  const s = session.get();
  if (s) headers.authorization = `Bearer ${s.accessToken}`;
  const form = body instanceof FormData;
  if (body !== undefined && !form) headers["content-type"] = "application/json";
  let r;
  try {
    r = await fetch(path, { method, headers, body: body === undefined || form ? body : JSON.stringify(body) });
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
  node.append(...children.flat(Infinity).filter((c) => c != null && c !== false));
  return node;
}

function button(text, onclick, attrs = {}) {
  return el("button", { type: "button", class: "secondary", ...attrs, onclick }, text);
}

// A label and its input; `attrs` go to the input.
function field(id, text, attrs = {}) {
  return [el("label", { for: id }, text), el("input", { id, name: id, ...attrs })];
}

// A form whose submit button stays disabled while `onsubmit` runs, so a
// double click sends one request.
function form(attrs, onsubmit, ...children) {
  const node = el("form", { ...attrs, onsubmit: async (e) => {
    e.preventDefault();
    const submit = node.querySelector("button[type=submit]");
    if (submit) submit.disabled = true;
    try { await onsubmit(new FormData(node), node); } finally { if (submit) submit.disabled = false; }
  } }, ...children);
  return node;
}

const when = (iso) => new Date(iso).toLocaleString();
const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function notice(message) {
  const box = document.getElementById("notice");
  box.textContent = message || "";
  box.hidden = !message;
}

// Go to a view and tell the person something there.
let flashed = null;
function go(hash, message) {
  flashed = message;
  if (location.hash === hash) route(); else location.hash = hash;
}

function show(...nodes) {
  const view = document.getElementById("view");
  view.replaceChildren(...nodes.filter(Boolean));
  // For screen readers the new view takes focus; the page starts at its top.
  view.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

function account() {
  const s = session.get();
  const slot = document.getElementById("account");
  slot.replaceChildren(...(s
    ? [el("a", { href: "#/favorites" }, "Favourites"), el("a", { href: "#/profile" }, "Profile"),
       s.user.role === "admin" ? [el("a", { href: "#/admin" }, "Manage catalogue"), el("a", { href: "#/admin/moderation" }, "Moderation"),
         el("a", { href: "#/admin/members" }, "Members")] : null,
       el("span", {}, `Signed in as ${s.user.username}`),
       button("Sign out", signOut)]
    : [el("a", { href: "#/login" }, "Sign in"), el("a", { href: "#/register" }, "Create account")]).flat(Infinity).filter(Boolean));
}

async function signOut() {
  const s = session.get();
  if (s) await api("POST", "/api/users/logout", { refreshToken: s.refreshToken }).catch(() => {});
  session.set(null);
  go("#/", "You are signed out.");
}

function signInFirst(render, what) {
  render(el("h1", {}, "Sign in first"),
    el("p", {}, el("a", { href: "#/login" }, "Sign in"), ` or `, el("a", { href: "#/register" }, "create an account"), ` ${what}.`));
}

// Cloudinary resizes and re-encodes an image as it delivers it: the page
// asks for a poster at the width it is shown (2:3, cropped to fill), in
// the format and quality that browser takes best (f_auto, q_auto), rather
// than the uploaded original. Other addresses are left as they are.
function cloudinarySized(url, width) {
  const m = /^(https:\/\/res\.cloudinary\.com\/[^/]+\/image\/upload\/)(.+)$/.exec(url);
  return m ? `${m[1]}c_fill,w_${width},h_${width * 3 / 2}/f_auto/q_auto/${m[2]}` : url;
}

// A movie's poster; `sizes` says how wide the page shows it, so the browser
// picks the smallest width that is sharp there.
function poster(movie, sizes = "(max-width: 40rem) 50vw, 13rem") {
  const url = movie.posterUrl;
  if (!url) return el("div", { class: "poster", role: "img", "aria-label": `No poster for ${movie.title}` }, movie.title);
  const resized = cloudinarySized(url, 400) !== url;
  return el("img", { class: "poster", alt: `Poster of ${movie.title}`, loading: "lazy", decoding: "async",
    src: cloudinarySized(url, 400),
    srcset: resized ? [200, 400, 800].map((w) => `${cloudinarySized(url, w)} ${w}w`).join(", ") : null,
    sizes: resized ? sizes : null });
}

// Previous / next for a list's pagination; `href(page)` is where each goes.
function pager({ page, totalPages }, href) {
  return el("nav", { class: "pager", "aria-label": "Pages" },
    page > 1 ? el("a", { href: href(page - 1) }, "← Previous") : null,
    el("span", {}, `Page ${page} of ${Math.max(totalPages, 1)}`),
    page < totalPages ? el("a", { href: href(page + 1) }, "Next →") : null);
}

const SORTS = [["", "Best match (newest without a search)"], ["title", "Title"], ["releaseYear:desc", "Release year"], ["averageRating:desc", "Best rated"]];

async function catalogue(params, render) {
  const query = new URLSearchParams(params);
  if (!query.get("limit")) query.set("limit", "12");
  const list = await api("GET", `/api/movies?${query}`);
  const search = form({ class: "search", role: "search" }, (data) => {
    const next = new URLSearchParams();
    for (const [k, v] of data) if (v) next.set(k, v);
    location.hash = `#/?${next}`;
  },
    el("div", {}, field("q", "Search titles and descriptions", { name: "search", type: "search", value: query.get("search") || "" })),
    el("div", {}, field("genre", "Genre", { size: 10, value: query.get("genre") || "" })),
    el("div", {}, field("year", "Year", { inputmode: "numeric", size: 4, value: query.get("year") || "" })),
    el("div", {}, el("label", { for: "sort" }, "Sort by"),
      el("select", { id: "sort", name: "sort" }, SORTS.map(([value, text]) =>
        el("option", { value, selected: (query.get("sort") || "") === value }, text)))),
    el("button", { type: "submit" }, "Search"));
  render(
    el("h1", {}, "Catalogue"), search,
    el("p", { class: "muted" }, plural(list.pagination.total, "movie", "movies")),
    el("ul", { class: "grid" }, list.data.map((m) => el("li", {},
      el("a", { href: `#/movies/${m.id}` }, poster(m),
        el("div", { class: "card-body" }, el("strong", {}, m.title), el("div", { class: "muted" },
          `${m.releaseYear} · ★ ${m.averageRating.toFixed(1)} (${m.totalRatings})`)))))),
    pager(list.pagination, (p) => { query.set("page", p); return `#/?${query}`; }));
}

// Cloudinary's delivery URL in the browser's own player, with the movie's
// subtitles (stored as WebVTT) as tracks.
function player(movie) {
  if (!movie.videoUrl) {
    return el("div", { class: "placeholder", role: "img", "aria-label": "No video yet" }, "No video for this movie yet");
  }
  return el("video", { controls: true, preload: "metadata", src: movie.videoUrl, poster: movie.posterUrl,
    crossorigin: "anonymous", "aria-label": `${movie.title}, the movie` },
    movie.subtitles.map((t) => el("track", { kind: "subtitles", src: t.url, srclang: t.language, label: t.language })),
    el("p", {}, "Your browser cannot play this video: ", el("a", { href: movie.videoUrl }, "download it"), "."));
}

function statsView(stats) {
  return el("div", { class: "stats" },
    el("p", {}, `★ ${stats.average.toFixed(1)} from ${plural(stats.count, "rating", "ratings")}`),
    el("ul", { class: "distribution", "aria-label": "Ratings by score" }, [5, 4, 3, 2, 1].map((n) => {
      const k = stats.distribution[n] || 0;
      return el("li", {}, el("span", {}, `${n} ★`),
        el("meter", { min: 0, max: Math.max(stats.count, 1), value: k, "aria-label": `${n} stars` }), el("span", {}, String(k)));
    })));
}

async function moviePage(id, render) {
  const movie = await api("GET", `/api/movies/${encodeURIComponent(id)}`);
  const s = session.get();
  const stats = el("div", {}, statsView(await api("GET", `/api/ratings/movie/${movie.id}/stats`)));
  const actions = [];
  if (s) {
    const [fav, mine] = await Promise.all([
      api("GET", `/api/favorites/${movie.id}/check`),
      api("GET", `/api/ratings/${movie.id}`).catch((e) => { if (e.status === 404) return null; throw e; }),
    ]);
    actions.push(el("button", { type: "button", "aria-pressed": String(fav.isFavorite), onclick: async () => {
      await api(fav.isFavorite ? "DELETE" : "POST", `/api/favorites/${movie.id}`);
      route();
    } }, fav.isFavorite ? "Remove from favourites" : "Add to favourites"));
    actions.push(form({ class: "rate" }, async (data) => {
      const saved = await api("POST", `/api/ratings/${movie.id}`, { score: Number(data.get("score")) });
      stats.replaceChildren(statsView(saved.stats));
      notice("Thanks: your rating is saved (the catalogue's average follows in a moment).");
    }, el("label", { for: "score" }, "Your rating"),
      el("select", { id: "score", name: "score" }, [5, 4, 3, 2, 1].map((n) =>
        el("option", { value: n, selected: mine ? mine.score === n : n === 5 }, `${n} ★`))),
      " ", el("button", { type: "submit" }, "Rate")));
    if (s.user.role === "admin") actions.push(el("p", {}, el("a", { href: `#/admin/movies/${movie.id}` }, "Edit this movie")));
  } else {
    actions.push(el("p", {}, el("a", { href: "#/login" }, "Sign in"), " to rate it, comment and keep it in your favourites."));
  }
  const facts = [movie.releaseYear, movie.durationMinutes ? `${movie.durationMinutes} min` : null,
    movie.genres.join(", "), movie.director].filter(Boolean).join(" · ");
  render(el("article", { class: "movie" }, poster(movie, "(max-width: 40rem) 100vw, 16rem"), el("div", {},
    el("h1", {}, movie.title),
    el("p", { class: "muted" }, facts),
    movie.cast.length ? el("p", {}, `With ${movie.cast.join(", ")}`) : null,
    el("p", {}, movie.description), player(movie), stats, ...actions)),
  comments(movie.id));
}

// Top-level comments, newest first, ten at a time; each opens its replies.
function comments(movieId) {
  const section = el("section", { class: "comments", "aria-labelledby": "comments-heading" });
  let page = 1;
  const load = async () => {
    const list = await api("GET", `/api/comments/movie/${movieId}?page=${page}&limit=10`);
    const s = session.get();
    section.replaceChildren(...[
      el("h2", { id: "comments-heading" }, "Comments"),
      s ? commentForm("Add a comment", "", "Post comment", async (content) => {
        const made = await api("POST", `/api/comments/movie/${movieId}`, { content });
        page = 1;
        await load();
        if (made.moderationStatus === "pending") notice("Thanks: your comment shows to others once a moderator approves it.");
      }) : el("p", {}, el("a", { href: "#/login" }, "Sign in"), " to join the conversation."),
      list.data.length ? el("ol", { class: "thread" }, list.data.map(commentItem)) : el("p", { class: "muted" }, "No comments yet."),
      list.pagination.totalPages > 1 ? el("nav", { class: "pager", "aria-label": "Comment pages" },
        page > 1 ? button("Newer comments", () => { page -= 1; load(); }) : null,
        el("span", {}, `Page ${page} of ${list.pagination.totalPages}`),
        page < list.pagination.totalPages ? button("Older comments", () => { page += 1; load(); }) : null) : null,
    ].filter(Boolean));
  };
  load().catch((e) => notice(e.message));
  return section;
}

let forms = 0;
function commentForm(label, initial, submitText, onsave, oncancel) {
  const id = `comment-text-${++forms}`;
  const area = el("textarea", { id, name: "content", rows: 3, maxlength: 1000, required: true });
  area.value = initial;
  const node = form({ class: "comment-form" }, (data) => onsave(String(data.get("content")).trim()),
    el("label", { for: id }, label), area,
    el("div", { class: "row" }, el("button", { type: "submit" }, submitText),
      oncancel ? button("Cancel", oncancel) : null));
  if (oncancel) setTimeout(() => area.focus());
  return node;
}

// Who wrote a comment, as others see it.
const author = (c) => c.userId === null ? "A former member" : c.authorName || "A member";

const REPLIES_PER_PAGE = 20;

// One comment with its actions; its replies (loaded on demand, a page at a
// time, oldest first) nest below, to any depth, each the same.
function commentItem(c) {
  const li = el("li", { class: "comment", id: `comment-${c.id}` });
  const replies = el("ol", { class: "thread" });
  let open = false;
  let pages = { page: 0, totalPages: 0 };
  const s = session.get();
  const mine = Boolean(s && c.userId && c.userId === s.user.id);
  const admin = Boolean(s && s.user.role === "admin");
  // A reply already shown (one just posted) is not added twice.
  const show = (list) => replies.append(...list.filter((r) => !replies.querySelector(`#comment-${r.id}`)).map(commentItem));
  const loadReplies = async (more) => {
    const page = more ? pages.page + 1 : 1;
    const list = await api("GET", `/api/comments/${c.id}/replies?page=${page}&limit=${REPLIES_PER_PAGE}`);
    if (!more) replies.replaceChildren();
    open = true;
    pages = list.pagination;
    c.replyCount = list.pagination.total;
    show(list.data);
    draw();
  };
  const draw = (editor) => {
    const who = mine ? "You" : author(c);
    const status = c.isDeleted ? null : { pending: "awaiting moderation", rejected: "hidden by a moderator" }[c.moderationStatus];
    const meta = [who, when(c.createdAt), c.isEdited && !c.isDeleted ? "edited" : null, status].filter(Boolean).join(" · ");
    const live = !c.isDeleted;
    li.replaceChildren(
      el("p", { class: "meta muted" }, meta),
      live ? el("p", { class: "content" }, c.content) : el("p", { class: "content muted" }, "This comment was deleted."),
      editor || el("div", { class: "actions" },
        live && s ? button("Reply", () => draw(commentForm("Your reply", "", "Post reply", async (content) => {
          const made = await api("POST", `/api/comments/movie/${c.movieId}`, { content, parentId: c.id });
          // Opening the thread counts the new reply; an open one counts it here.
          if (open) c.replyCount += 1; else await loadReplies();
          // The newest reply is last: shown at once, whichever page it is on.
          show([made]);
          draw();
        }, () => draw()))) : null,
        live && mine ? button("Edit", () => draw(commentForm("Edit your comment", c.content, "Save", async (content) => {
          Object.assign(c, await api("PUT", `/api/comments/${c.id}`, { content }));
          draw();
        }, () => draw()))) : null,
        live && (mine || admin) ? button("Delete", async () => {
          if (!confirm("Delete this comment? Its replies stay.")) return;
          await api("DELETE", `/api/comments/${c.id}`);
          Object.assign(c, { isDeleted: true, content: null });
          draw();
        }) : null,
        c.replyCount > 0 ? button(open ? "Hide replies" : `Show ${plural(c.replyCount, "reply", "replies")}`,
          () => { if (open) { open = false; replies.replaceChildren(); draw(); } else loadReplies(); },
          { "aria-expanded": String(open) }) : null),
      replies,
      open && pages.page < pages.totalPages
        ? el("p", {}, button(`Show ${plural(c.replyCount - replies.children.length, "more reply", "more replies")}`, () => loadReplies(true)))
        : null);
  };
  draw();
  return li;
}

// The API's rule for a username (docs/openapi.json, Username).
const USERNAME = { required: true, autocomplete: "username", pattern: "\\s*[A-Za-z0-9_.\\-]{3,30}\\s*" };
const USERNAME_RULE = "3 to 30 letters (a-z, A-Z), digits, '_', '.' or '-'.";

function authForm(kind, render) {
  const register = kind === "register";
  render(form({ class: "narrow" }, async (data) => {
    const body = Object.fromEntries(data);
    if (register) body.username = body.username.trim();
    const s = await api("POST", register ? "/api/users/register" : "/api/users/login", body);
    session.set({ user: s.user, accessToken: s.accessToken, refreshToken: s.refreshToken });
    go("#/", register ? `Welcome to Streamia, ${s.user.username}.` : null);
  }, el("h1", {}, register ? "Create an account" : "Sign in"),
    field("email", "E-mail", { type: "email", required: true, autocomplete: "email" }),
    register ? field("username", "Username", USERNAME) : null,
    register ? el("p", { class: "muted" }, USERNAME_RULE) : null,
    field("password", "Password", { type: "password", required: true, minlength: register ? 8 : null,
      autocomplete: register ? "new-password" : "current-password" }),
    register ? el("p", { class: "muted" }, "At least 8 characters.") : null,
    el("p", {}, el("button", { type: "submit" }, register ? "Create account" : "Sign in")),
    register ? null : el("p", {}, el("a", { href: "#/forgot" }, "Forgot your password?"))));
}

function forgotForm(render) {
  render(form({ class: "narrow" }, async (data) => {
    await api("POST", "/api/users/password/forgot", { email: data.get("email") });
    notice("If an account uses that address, it has an e-mail with a link to choose a new password; the link works for an hour.");
  }, el("h1", {}, "Forgot your password?"),
    el("p", {}, "Tell us your e-mail; we send a link to choose a new password."),
    field("email", "E-mail", { type: "email", required: true, autocomplete: "email" }),
    el("p", {}, el("button", { type: "submit" }, "Send the link"))));
}

// The page the reset e-mail links to: /reset-password?token=…
function resetForm(render) {
  const token = new URLSearchParams(location.search).get("token");
  if (!token) {
    render(el("h1", {}, "Choose a new password"),
      el("p", {}, "This link is incomplete. ", el("a", { href: "/#/forgot" }, "Ask for a new one"), "."));
    return;
  }
  render(form({ class: "narrow" }, async (data) => {
    if (data.get("newPassword") !== data.get("repeat")) return notice("The two passwords differ; type the same one twice.");
    await api("POST", "/api/users/password/reset", { token, newPassword: data.get("newPassword") });
    history.replaceState(null, "", "/#/login");
    go("#/login", "Your password is changed: sign in with it.");
  }, el("h1", {}, "Choose a new password"),
    field("newPassword", "New password", { type: "password", required: true, minlength: 8, autocomplete: "new-password" }),
    field("repeat", "The same again", { type: "password", required: true, minlength: 8, autocomplete: "new-password" }),
    el("p", {}, el("button", { type: "submit" }, "Change password"))));
}

async function favoritesPage(params, render) {
  if (!session.get()) return signInFirst(render, "to keep favourites");
  const page = Number(params.page) || 1;
  const list = await api("GET", `/api/favorites?page=${page}&limit=12`);
  render(el("h1", {}, "Your favourites"),
    list.data.length
      ? el("ul", { class: "grid" }, list.data.map((f) => el("li", {},
          el("a", { href: `#/movies/${f.movieId}` }, poster(f),
            el("div", { class: "card-body" }, el("strong", {}, f.title), f.note ? el("div", { class: "muted" }, f.note) : null)),
          el("div", { class: "card-body" }, button("Remove", async () => {
            await api("DELETE", `/api/favorites/${f.movieId}`);
            go(location.hash, `${f.title} is no longer a favourite.`);
          }, { "aria-label": `Remove ${f.title} from favourites` })))))
      : el("p", {}, "None yet. ", el("a", { href: "#/" }, "Browse the catalogue"), " and add the movies you love."),
    pager(list.pagination, (p) => `#/favorites?page=${p}`));
}

// The titles of the movies `items` name (by movieId), each asked once.
async function titlesOf(items) {
  const ids = [...new Set(items.map((i) => i.movieId))];
  return Object.fromEntries(await Promise.all(ids.map((id) =>
    api("GET", `/api/movies/${id}`).then((m) => [id, m.title], () => [id, "a movie no longer in the catalogue"]))));
}

async function profilePage(params, render) {
  if (!session.get()) return signInFirst(render, "to see your profile");
  const page = Number(params.page) || 1;
  const [me, rated] = await Promise.all([api("GET", "/api/users/me"),
    api("GET", `/api/ratings/user/history?page=${page}&limit=10`)]);
  const titles = await titlesOf(rated.data);
  render(el("h1", {}, "Your profile"),
    el("p", { class: "muted" }, `Member since ${when(me.createdAt)}${me.role === "admin" ? " · administrator" : ""}`),
    el("section", { class: "narrow ratings" }, el("h2", {}, "Your ratings"),
      rated.data.length
        ? [el("ol", {}, rated.data.map((r) => el("li", {},
            el("a", { href: `#/movies/${r.movieId}` }, titles[r.movieId]), ` · ${r.score} ★ · ${when(r.updatedAt)}`))),
           pager(rated.pagination, (p) => `#/profile?page=${p}`)]
        : el("p", {}, "None yet: a movie's page has its rating form.")),
    form({ class: "narrow" }, async (data) => {
      const changed = {};
      for (const k of ["username", "email"]) if (data.get(k).trim() !== me[k]) changed[k] = data.get(k).trim();
      if (!Object.keys(changed).length) return notice("Nothing to save: your details are as they were.");
      const user = await api("PATCH", "/api/users/me", changed);
      session.set({ ...session.get(), user });
      go("#/profile", "Your details are saved.");
    }, el("h2", {}, "Your details"),
      field("username", "Username", { ...USERNAME, value: me.username }),
      field("email", "E-mail", { type: "email", required: true, value: me.email, autocomplete: "email" }),
      el("p", {}, el("button", { type: "submit" }, "Save details"))),
    form({ class: "narrow" }, async (data, node) => {
      const fresh = await api("PUT", "/api/users/me/password",
        { currentPassword: data.get("currentPassword"), newPassword: data.get("newPassword") });
      if (fresh && fresh.accessToken) session.set({ ...session.get(), accessToken: fresh.accessToken, refreshToken: fresh.refreshToken });
      node.reset();
      notice("Your password is changed; every other device is signed out.");
    }, el("h2", {}, "Password"),
      field("currentPassword", "Current password", { type: "password", required: true, autocomplete: "current-password" }),
      field("newPassword", "New password", { type: "password", required: true, minlength: 8, autocomplete: "new-password" }),
      el("p", {}, el("button", { type: "submit" }, "Change password"))),
    el("section", { class: "narrow" }, el("h2", {}, "Delete your account"),
      el("p", {}, "Your favourites and ratings go; your comments stay, without your name."),
      el("button", { type: "button", onclick: async () => {
        if (!confirm("Delete your account for good?")) return;
        await api("DELETE", "/api/users/me");
        session.set(null);
        go("#/", "Your account is deleted.");
      } }, "Delete my account")));
}

function adminOnly(render) {
  const s = session.get();
  if (!s) { signInFirst(render, "as an administrator"); return false; }
  if (s.user.role !== "admin") { render(el("h1", {}, "Administrators only"), el("p", {}, "This page is for the catalogue's administrators.")); return false; }
  return true;
}

async function adminMovies(params, render) {
  if (!adminOnly(render)) return;
  const query = new URLSearchParams({ limit: "20", sort: "createdAt:desc", ...params });
  const list = await api("GET", `/api/movies?${query}`);
  render(el("h1", {}, "Manage the catalogue"),
    el("p", {}, el("a", { href: "#/admin/movies/new", class: "button" }, "Add a movie")),
    el("table", {}, el("caption", { class: "muted" }, plural(list.pagination.total, "movie", "movies")),
      el("thead", {}, el("tr", {}, ["Title", "Year", "Media", ""].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, list.data.map((m) => el("tr", {},
        el("td", {}, el("a", { href: `#/movies/${m.id}` }, m.title)),
        el("td", {}, String(m.releaseYear)),
        el("td", {}, [m.posterUrl ? "poster" : null, m.videoUrl ? "video" : null,
          m.subtitles.length ? plural(m.subtitles.length, "subtitle", "subtitles") : null].filter(Boolean).join(", ") || "none"),
        el("td", {}, el("a", { href: `#/admin/movies/${m.id}`, "aria-label": `Edit ${m.title}` }, "Edit")))))),
    pager(list.pagination, (p) => { query.set("page", p); return `#/admin?${query}`; }));
}

// A movie's details (create or edit) and, once it exists, its media.
async function movieEditor(id, render) {
  if (!adminOnly(render)) return;
  const movie = id === "new" ? null : await api("GET", `/api/movies/${encodeURIComponent(id)}`);
  const v = movie || { title: "", description: "", genres: [], cast: [], subtitles: [] };
  const details = form({ class: "editor" }, async (data) => {
    const list = (k) => String(data.get(k)).split(",").map((x) => x.trim()).filter(Boolean);
    const body = { title: data.get("title"), description: data.get("description"), genres: list("genres"), cast: list("cast") };
    for (const k of ["releaseYear", "durationMinutes"]) if (data.get(k) !== "") body[k] = Number(data.get(k));
    if (data.get("director") !== "") body.director = data.get("director");
    if (movie) {
      await api("PATCH", `/api/movies/${movie.id}`, body);
      go(location.hash, "The movie is saved.");
    } else {
      const made = await api("POST", "/api/movies", body);
      go(`#/admin/movies/${made.id}`, "The movie is in the catalogue: add its poster, subtitles and video below.");
    }
  },
    field("title", "Title", { required: true, value: v.title }),
    el("label", { for: "description" }, "Description"),
    (() => { const t = el("textarea", { id: "description", name: "description", rows: 4, required: true }); t.value = v.description; return t; })(),
    el("div", { class: "row" },
      el("div", {}, field("releaseYear", "Release year", { inputmode: "numeric", required: true, value: v.releaseYear })),
      el("div", {}, field("durationMinutes", "Minutes", { inputmode: "numeric", value: v.durationMinutes }))),
    field("genres", "Genres (comma-separated)", { value: v.genres.join(", ") }),
    field("director", "Director", { value: v.director }),
    field("cast", "Cast (comma-separated)", { value: v.cast.join(", ") }),
    el("p", {}, el("button", { type: "submit" }, movie ? "Save changes" : "Add to the catalogue")));
  if (!movie) return render(el("h1", {}, "Add a movie"), details);
  render(el("h1", {}, `Edit ${movie.title}`),
    el("p", {}, el("a", { href: `#/movies/${movie.id}` }, "See its page")),
    details, posterForm(movie), subtitlesForm(movie), videoForm(movie),
    el("section", { class: "narrow" }, el("h2", {}, "Delete"),
      el("p", {}, "Takes it out of the catalogue with its media, favourites, ratings and comments."),
      el("button", { type: "button", onclick: async () => {
        if (!confirm(`Delete ${movie.title} for good?`)) return;
        await api("DELETE", `/api/movies/${movie.id}`);
        go("#/admin", `${movie.title} is deleted.`);
      } }, "Delete this movie")));
}

// Removing a poster, a track or the video takes it off the movie at once;
// Cloudinary's copy is destroyed after, retried until Cloudinary confirms.
function removeButton(movie, what, path, label) {
  return button(label, async () => {
    if (!confirm(`Remove ${what} from ${movie.title}?`)) return;
    await api("DELETE", `/api/movies/${movie.id}/${path}`);
    go(location.hash, `Removed ${what}.`);
  });
}

function posterForm(movie) {
  return form({ class: "media" }, async (data) => {
    await api("POST", `/api/movies/${movie.id}/poster`, data);
    go(location.hash, "The poster is uploaded.");
  }, el("h2", {}, "Poster"), poster(movie, "10rem"),
    field("poster-file", "Poster image (JPEG, PNG or WebP, up to 5 MiB)", { name: "file", type: "file", required: true, accept: "image/jpeg,image/png,image/webp" }),
    el("p", {}, el("button", { type: "submit" }, "Upload poster"), " ",
      movie.posterUrl ? removeButton(movie, "the poster", "poster", "Remove poster") : null));
}

function subtitlesForm(movie) {
  return form({ class: "media" }, async (data) => {
    await api("POST", `/api/movies/${movie.id}/subtitles`, data);
    go(location.hash, `The ${data.get("language")} subtitles are uploaded.`);
  }, el("h2", {}, "Subtitles"),
    movie.subtitles.length
      ? el("ul", { class: "subtitles" }, movie.subtitles.map((t) => el("li", {}, el("a", { href: t.url }, t.language), " ",
          removeButton(movie, `the ${t.language} subtitles`, `subtitles/${encodeURIComponent(t.language)}`, `Remove ${t.language}`))))
      : el("p", { class: "muted" }, "None yet."),
    field("subtitle-language", "Language code (en, es, pt-BR)", { name: "language", required: true, size: 6 }),
    field("subtitle-file", "File (.vtt or .srt, up to 1 MiB; replaces that language)", { name: "file", type: "file", required: true, accept: ".vtt,.srt" }),
    el("p", {}, el("button", { type: "submit" }, "Upload subtitles")));
}

// Videos go from the browser straight to Cloudinary with parameters the
// movies service signs; Cloudinary then tells the service, which sets the
// movie's video: this page waits for that.
function videoForm(movie) {
  const progress = el("progress", { id: "video-progress", max: 1, value: 0, hidden: true });
  const status = el("p", { id: "video-status", role: "status" }, movie.videoUrl ? "The movie has a video; a new upload replaces it." : "No video yet.");
  return form({ class: "media" }, async (data) => {
    const file = data.get("file");
    const signed = await api("POST", `/api/movies/${movie.id}/video/upload-signature`);
    progress.hidden = false;
    status.textContent = `Uploading ${file.name} to Cloudinary…`;
    await upload(signed, file, (loaded, total) => {
      progress.max = total; progress.value = loaded;
      status.textContent = `Uploading ${file.name} to Cloudinary: ${Math.floor((100 * loaded) / total)} %`;
    });
    if (!signed.notificationUrl) {
      status.textContent = "Uploaded. Streamia hears of it only through Cloudinary's notification, which is not set up here (cloudinary_notification_url).";
      return;
    }
    status.textContent = "Uploaded; waiting for Cloudinary to confirm it…";
    for (let i = 0; i < 60; i++) {
      await sleep(1000);
      const now = await api("GET", `/api/movies/${movie.id}`);
      if (now.videoUrl && now.updatedAt !== movie.updatedAt) {
        status.textContent = "The video is ready: it plays on the movie's page.";
        return;
      }
    }
    status.textContent = "Uploaded. Cloudinary has not confirmed it yet; the movie's page shows the video once it does.";
  }, el("h2", {}, "Video"), status,
    field("video-file", "Video file", { name: "file", type: "file", required: true, accept: "video/*" }),
    el("label", { for: "video-progress" }, "Upload progress"), progress,
    el("p", {}, el("button", { type: "submit" }, "Upload video"), " ",
      movie.videoUrl ? removeButton(movie, "the video", "video", "Remove video") : null));
}

function upload(signed, file, onprogress) {
  const body = new FormData();
  body.append("file", file);
  body.append("api_key", signed.apiKey);
  body.append("timestamp", signed.timestamp);
  body.append("public_id", signed.publicId);
  if (signed.notificationUrl) body.append("notification_url", signed.notificationUrl);
  body.append("signature", signed.signature);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", signed.uploadUrl);
    xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) onprogress(e.loaded, e.total); });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      let why = "";
      try { why = JSON.parse(xhr.responseText).error.message; } catch { /* not JSON */ }
      reject(new Error(`Cloudinary refused the video (${xhr.status}${why ? `: ${why}` : ""}).`));
    });
    xhr.addEventListener("error", () => reject(new Error("The upload to Cloudinary failed; check the connection and try again.")));
    xhr.send(body);
  });
}

async function moderation(params, render) {
  if (!adminOnly(render)) return;
  const page = Number(params.page) || 1;
  const list = await api("GET", `/api/comments/pending?page=${page}&limit=20`);
  const titles = await titlesOf(list.data);
  const decide = (c, status) => async () => {
    await api("PATCH", `/api/comments/${c.id}/moderate`, { status });
    go(location.hash, status === "approved" ? "Approved: everyone sees it now." : "Rejected: only its author sees it.");
  };
  render(el("h1", {}, "Moderation"),
    el("p", { class: "muted" }, `${plural(list.pagination.total, "comment", "comments")} waiting, oldest first`),
    list.data.length
      ? el("ol", { class: "queue" }, list.data.map((c) => el("li", { class: "comment" },
          el("p", { class: "meta muted" }, `${author(c)} on `, el("a", { href: `#/movies/${c.movieId}` }, titles[c.movieId]), ` · ${when(c.createdAt)}`),
          el("p", { class: "content" }, c.content),
          el("div", { class: "actions" }, el("button", { type: "button", onclick: decide(c, "approved") }, "Approve"),
            button("Reject", decide(c, "rejected"))))))
      : el("p", {}, "Nothing is waiting for moderation."),
    pager(list.pagination, (p) => `#/admin/moderation?page=${p}`));
}

// Who has an account, and who administers: an admin promotes or demotes
// (the API keeps at least one admin). A new role reaches a person's next
// access token, within 15 minutes. An admin suspends a member (no sign-in,
// their session ends within 15 minutes), reactivates them, or deletes the
// account; an administrator's account is demoted first.
async function members(params, render) {
  if (!adminOnly(render)) return;
  const page = Number(params.page) || 1;
  const list = await api("GET", `/api/users?page=${page}&limit=20`);
  const me = session.get().user;
  const setRole = (u, role) => async () => {
    const changed = await api("PATCH", `/api/users/${u.id}/role`, { role });
    if (u.id === me.id) {
      session.set({ ...session.get(), user: { ...me, role: changed.role } });
      go("#/", "You are no longer an administrator.");
    } else {
      go(location.hash, `${changed.username} is ${changed.role === "admin" ? "an administrator" : "a member"} now (from their next sign-in, or within 15 minutes).`);
    }
  };
  const suspend = (u, how) => async () => {
    const changed = await api("POST", `/api/users/${u.id}/${how}`);
    go(location.hash, changed.suspendedAt
      ? `${changed.username} is suspended: they cannot sign in, and their session ends within 15 minutes.`
      : `${changed.username} can sign in again.`);
  };
  const remove = (u) => async () => {
    if (!confirm(`Delete ${u.username}'s account for good? Their favourites and ratings go; their comments stay without their name.`)) return;
    await api("DELETE", `/api/users/${u.id}`);
    go(location.hash, `${u.username}'s account is deleted; they are told by e-mail.`);
  };
  const status = (u) => u.suspendedAt ? `suspended ${when(u.suspendedAt)}` : "active";
  const actions = (u) => u.role === "admin"
    ? [button("Make member", setRole(u, "user"), { "aria-label": `Make ${u.username} a member` })]
    : [button("Make administrator", setRole(u, "admin"), { "aria-label": `Make ${u.username} an administrator` }),
      u.suspendedAt
        ? button("Reactivate", suspend(u, "reactivate"), { "aria-label": `Reactivate ${u.username}` })
        : button("Suspend", suspend(u, "suspend"), { "aria-label": `Suspend ${u.username}` }),
      button("Delete", remove(u), { "aria-label": `Delete ${u.username}'s account` })];
  render(el("h1", {}, "Members"),
    el("table", {}, el("caption", { class: "muted" }, plural(list.pagination.total, "account", "accounts")),
      el("thead", {}, el("tr", {}, ["Name", "E-mail", "Member since", "Role", "Status", ""].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, list.data.map((u) => el("tr", {},
        el("td", {}, u.username),
        el("td", {}, u.email),
        el("td", {}, when(u.createdAt)),
        el("td", {}, u.role === "admin" ? "administrator" : "member"),
        el("td", {}, status(u)),
        el("td", { class: "actions" }, ...actions(u)))))),
    pager(list.pagination, (p) => `#/admin/members?page=${p}`));
}

// A view shows only while its route is the current one: a slow answer for
// a page the person already left never replaces the page they are on.
let routeId = 0;

async function route() {
  const id = ++routeId;
  const render = (...nodes) => { if (id === routeId) show(...nodes); };
  notice(flashed);
  flashed = null;
  account();
  const [path, query] = (location.hash.slice(1) || "/").split("?");
  const params = Object.fromEntries(new URLSearchParams(query || ""));
  const [first, second, third] = path.split("/").filter(Boolean);
  try {
    if (location.pathname === "/reset-password") resetForm(render);
    else if (first === "movies" && second) await moviePage(second, render);
    else if (first === "login") authForm("login", render);
    else if (first === "register") authForm("register", render);
    else if (first === "forgot") forgotForm(render);
    else if (first === "favorites") await favoritesPage(params, render);
    else if (first === "profile") await profilePage(params, render);
    else if (first === "admin" && second === "movies" && third) await movieEditor(third, render);
    else if (first === "admin" && second === "moderation") await moderation(params, render);
    else if (first === "admin" && second === "members") await members(params, render);
    else if (first === "admin") await adminMovies(params, render);
    else await catalogue(params, render);
  } catch (e) {
    if (id === routeId) notice(e.message);
  }
}

// Errors from forms and buttons (outside route()) are shown the same way.
window.addEventListener("unhandledrejection", (e) => { notice(e.reason && e.reason.message); e.preventDefault(); });
window.addEventListener("hashchange", () => route());
document.addEventListener("DOMContentLoaded", () => route());
