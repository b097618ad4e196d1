-- wrk script for the `pos` payment: reserve 0.01 on a voucher, then charge that reservation.
-- Each wrk thread pays with its own share of the voucher codes WRK-0 .. WRK-(VOUCHERS-1);
-- a reservation answered on any connection of the thread is charged by the next request the
-- thread sends. Environment: TOKEN (a bearer token with scope `use`), VOUCHERS (how many).
-- Counts successful charges (payments) and every other answer, printed at the end.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  token = os.getenv("TOKEN")
  vouchers = tonumber(os.getenv("VOUCHERS") or "10000")
  pending = {}
  payments = 0
  reserved = 0
  refused = 0
  next_code = 0
  headers = {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }
end

-- Threads are numbered 0 .. n-1 by setup(); their codes are id, id + n, id + 2n, ...
function request()
  local reservation = table.remove(pending)
  if reservation then
    return wrk.format("POST", "/v1/reservations/" .. reservation .. "/charge", headers,
      '{"order_number":"WRK"}')
  end
  local stride = tonumber(os.getenv("WRK_THREADS") or "2")
  local code = (id + next_code * stride) % vouchers
  next_code = next_code + 1
  return wrk.format("POST", "/v1/reservations", headers,
    '{"amount":"0.01","currency":"EUR","code":"WRK-' .. code .. '"}')
end

function response(status, headers, body)
  if status == 201 and body:find('"type":"charge"', 1, true) then
    payments = payments + 1
  elseif status == 201 then
    local reservation = body:match('"id":"([^"]+)"')
    if reservation then
      reserved = reserved + 1
      table.insert(pending, reservation)
    end
  else
    refused = refused + 1
  end
end

function done(summary, latency, requests)
  local paid, other = 0, 0
  for _, thread in ipairs(threads) do
    paid = paid + thread:get("payments")
    other = other + thread:get("refused")
  end
  local seconds = summary.duration / 1e6
  io.write(string.format("payments %d in %.1f s: %.0f payments/s; other answers %d; " ..
    "latency p50 %.2f ms p99 %.2f ms\n", paid, seconds, paid / seconds, other,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
