-- wrk script: replays a request file (METHOD, path, token, body; tab-separated),
-- each thread its own slice of it, in order, round and round; counts answers
-- by class and the movies cache's X-Cache header; prints one JSON line.
-- A well-behaved client: after an answer with Retry-After (503 overloaded,
-- 429), the thread's next request waits that long (a random part of it,
-- so that the clients refused together do not all come back together).
--   wrk -s requests.lua URL -- FILE NAME
local threads = {}

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

function init(args)
  local file, lines = args[1], {}
  for line in io.lines(file) do
    local method, path, token, body = line:match("^(%S+)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local headers = {}
    if token ~= "" then headers["Authorization"] = "Bearer " .. token end
    if body ~= "" then headers["Content-Type"] = "application/json" else body = nil end
    table.insert(lines, wrk.format(method, path, headers, body))
  end
  -- Thread k of n takes the k-th of n equal runs (all of a file shorter than n).
  local n = tonumber(args[3])
  local size = math.floor(#lines / n)
  requests = {}
  if size == 0 then
    requests = lines
  else
    for i = index * size + 1, (index + 1) * size do table.insert(requests, lines[i]) end
  end
  name, next_request, wait_ms = args[2], 0, 0
  math.randomseed(os.time() + index)
  ok, client_errors, server_errors, hits, misses = 0, 0, 0, 0, 0
end

function delay()
  local ms = wait_ms
  wait_ms = 0
  return ms
end

function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

function response(status, headers, body)
  if status < 400 then ok = ok + 1
  elseif status < 500 then client_errors = client_errors + 1
  else server_errors = server_errors + 1 end
  local retry = tonumber(headers["retry-after"] or headers["Retry-After"] or "")
  if retry and status >= 400 then wait_ms = math.random(0, retry * 1000) end
  local cache = headers["x-cache"] or headers["X-Cache"]
  if cache == "hit" then hits = hits + 1 elseif cache == "miss" then misses = misses + 1 end
end

function done(summary, latency, requests)
  local totals = {ok = 0, client_errors = 0, server_errors = 0, hits = 0, misses = 0}
  for _, thread in ipairs(threads) do
    for key, _ in pairs(totals) do totals[key] = totals[key] + thread:get(key) end
  end
  local seconds = summary.duration / 1e6
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  io.write(string.format(
    '{"name":"%s","requests":%d,"rps":%.1f,"ok_rps":%.1f,"p50":%.2f,"p95":%.2f,"p99":%.2f,' ..
    '"ok":%d,"client_errors":%d,"server_errors":%d,"socket_errors":%d,"errors":%d,"hits":%d,"misses":%d}\n',
    threads[1]:get("name"), summary.requests, summary.requests / seconds, totals.ok / seconds,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    totals.ok, totals.client_errors, totals.server_errors, socket_errors,
    totals.client_errors + totals.server_errors + socket_errors, totals.hits, totals.misses))
end
