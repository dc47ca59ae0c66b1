-- wrk script: POST one share as JSON per request and count the answers.
-- The rate limits are raised by run.sh, so every well-formed share should
-- be accepted (202); anything else is counted as refused.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  accepted = 0
  refused = 0
  wrk.method = "POST"
  wrk.path = os.getenv("SHARE_PATH")
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = '{"to": ["dong.nghiep@example.vn"], "sender_name": "Nguyễn Văn An", '
    .. '"sender_email": "an.nguyen@example.vn", "note": "Bài này hay, chị xem nhé."}'
end

function response(status, headers, body)
  if status == 202 then
    accepted = accepted + 1
  else
    refused = refused + 1
  end
end

function done(summary, latency, requests)
  local a, r = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("accepted")
    r = r + t:get("refused")
  end
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT accepted=%d refused=%d seconds=%.2f accepted_per_s=%.0f "
    .. "p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", a, r, secs, a / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
