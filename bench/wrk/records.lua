-- POST audit records to audittrail (or to the bench's echo app), each with a unique summary,
-- and print one line "WRK_JSON {...}" with status counts, errors and latency for bench.ingest.
--
--   wrk -t1 -c32 -d10s -s bench/wrk/records.lua URL -- KEY TAG PER_REQUEST [LIMIT]
--
-- KEY: the API key, sent as a Bearer token. TAG: names this run in every summary, so no two
-- records of a benchmark share one. PER_REQUEST: 0 posts one record per request (URL is
-- .../records), N posts a JSON array of N (URL is .../records/batch). LIMIT: with more than 0,
-- each thread stops after that many answers and says so on stderr (use one thread).

local threads = {}

function setup(thread)
  thread:set("thread_number", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  tag = args[2]
  per_request = tonumber(args[3])
  limit = tonumber(args[4] or "0")
  sent = 0
  answered = 0
  statuses = {}
  headers = {
    ["Authorization"] = "Bearer " .. args[1],
    ["Content-Type"] = "application/json",
  }
end

-- Shaped like the seed's example: an application with registered params, an entity, metadata.
local RECORD = '{"event_type":"invoice.refunded","summary":"Refunded invoice INV-%d (%s-%d-%d)",'
  .. '"category":"billing","application_key":"billing","entity_type":"invoice",'
  .. '"entity_id":"INV-%d","severity":"medium",'
  .. '"params":{"amount":%d.5,"currency":"EUR","attempt":%d},'
  .. '"metadata":{"request_id":"req_%s_%d_%d"}}'

local function record(number)
  return string.format(
    RECORD, number % 100000, tag, thread_number, number, number % 100000,
    number % 1000, number % 3, tag, thread_number, number
  )
end

function request()
  sent = sent + 1
  local body
  if per_request == 0 then
    body = record(sent)
  else
    local items = {}
    local first = (sent - 1) * per_request
    for i = 1, per_request do
      items[i] = record(first + i)
    end
    body = "[" .. table.concat(items, ",") .. "]"
  end
  return wrk.format("POST", nil, headers, body)
end

function response(status, _headers, _body)
  statuses[status] = (statuses[status] or 0) + 1
  answered = answered + 1
  if limit > 0 and answered == limit then
    -- The thread stops, but wrk itself sleeps out -d: the caller sends SIGINT on this line.
    io.stderr:write("WRK_LIMIT_REACHED\n")
    io.stderr:flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, _requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + count
    end
  end
  local fields = {}
  for status, count in pairs(counts) do
    table.insert(fields, string.format('"%d":%d', status, count))
  end
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"statuses":{%s},'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes, table.concat(fields, ","),
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean
  ))
end
