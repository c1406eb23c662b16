-- wrk reporter: requests/s and latency percentiles (wrk --latency has no p95).
done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("requests:      %d in %.1fs (%d errors or non-2xx/3xx)\n",
    summary.requests, seconds, errors))
  io.write(string.format("requests/s:    %.0f\n", summary.requests / seconds))
  for _, p in ipairs({50, 95, 99}) do
    io.write(string.format("p%d latency:   %.2f ms\n", p, latency:percentile(p) / 1000))
  end
end
