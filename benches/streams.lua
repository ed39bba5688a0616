-- wrk script: the streams API (POST /streams, POST /streams/{id}/heartbeat) as a content
-- server calls it, with HTTP Basic.
--
--   wrk ... -s benches/streams.lua URL -- heartbeat ID_FILE 'Basic ...'
--   wrk ... -s benches/streams.lua URL -- start TOKEN_FILE 'Basic ...' DEVICES [fill]
--
-- heartbeat: POST /streams/{id}/heartbeat for every stream id of ID_FILE (one a line), round
-- robin; every request is pre-formatted in init() so request() only indexes a table. A 200
-- must carry "expires_in".
-- start: POST /streams for every (viewer, device) pair: TOKEN_FILE holds one viewer access
-- token a line (person p on line p), the devices are bench-0 … bench-(DEVICES-1). Request i
-- is viewer (i mod P) with device (i div P) mod DEVICES, so consecutive starts are for
-- different accounts and every pair comes once in P × DEVICES requests. Once each pair holds
-- a stream, every start is that device starting again: it replaces its own stream, and the
-- number of live streams stays P × DEVICES. A 201 must carry "stream_id".
-- With "fill", the thread stops after one pass over the pairs and FILL_MARGIN answers more
-- (restarts of the first pairs: answers do not come back in the order of the requests, so
-- the pass's last pairs are surely sent by then), and says so on stderr; the driver
-- interrupts wrk (the mechanism of introspect.lua's cold pass). Use it with -t1 and at most
-- FILL_MARGIN connections.
-- done() prints one "usher-check:" line that benches/usher_bench.py parses: the answers that
-- are not the expected status (non200: any status but 200 for heartbeats, 201 for starts),
-- the expected status without its field (inactive), and of the unexpected ones the 404s
-- (not_found: a heartbeat for a stream that is over) and 409s (conflict: a start refused at
-- the limit), 5xx (server_errors), 503 with Retry-After and the slowest answer (max_us).

local threads = {}
local FILL_MARGIN = 64

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   -- globals, so done() can read them with thread:get()
   responses, non200, inactive, not_found, conflict, server_errors, retry_after_503 = 0, 0, 0, 0, 0, 0, 0
   mode, fill, items = args[1], false, 0
   local path, authorization = args[2], args[3]
   local file = assert(io.open(path, "r"))
   if mode == "heartbeat" then
      assert(#args == 3, "heartbeat takes ID_FILE AUTHORIZATION")
      expected_status, expected_field = 200, '"expires_in"'
      prepared = {}
      for line in file:lines() do
         if #line > 0 then
            items = items + 1
            prepared[items] = wrk.format("POST", "/streams/" .. line .. "/heartbeat", {
               ["Authorization"] = authorization,
            }, "")
         end
      end
   elseif mode == "start" then
      expected_status, expected_field = 201, '"stream_id"'
      devices = assert(tonumber(args[4]), "start takes TOKEN_FILE AUTHORIZATION DEVICES [fill]")
      for index = 5, #args do
         if args[index] == "fill" then
            fill = true
         else
            error("unknown argument: " .. args[index])
         end
      end
      viewers = {}
      for line in file:lines() do
         if #line > 0 then
            items = items + 1
            viewers[items] = "token=" .. line .. "&content=bench&device_id=bench-"
         end
      end
      pairs_count = items * devices
      head = "POST /streams HTTP/1.1\r\nHost: " .. wrk.host .. ":" .. wrk.port
         .. "\r\nAuthorization: " .. authorization
         .. "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: "
   else
      error("the first argument is heartbeat or start, not " .. tostring(mode))
   end
   file:close()
   assert(items > 0, "nothing in " .. path)
   next_index = 0
end

function request()
   local index = next_index
   next_index = next_index + 1
   if mode == "heartbeat" then
      return prepared[index % items + 1]
   end
   local pair = index % pairs_count
   local body = viewers[pair % items + 1] .. math.floor(pair / items) % devices
   return head .. #body .. "\r\n\r\n" .. body
end

function response(status, headers, body)
   responses = responses + 1
   if status >= 500 then
      server_errors = server_errors + 1
      if status == 503 and (headers["Retry-After"] or headers["retry-after"]) then
         retry_after_503 = retry_after_503 + 1
      end
   end
   if status ~= expected_status then
      non200 = non200 + 1
      if status == 404 then
         not_found = not_found + 1
      elseif status == 409 then
         conflict = conflict + 1
      end
   elseif not string.find(body, expected_field, 1, true) then
      inactive = inactive + 1
   end
   if fill and responses == pairs_count + FILL_MARGIN then
      -- wrk's main thread sleeps for the whole -d duration; the driver sends wrk SIGINT
      -- when it reads this line, so the reported rate covers the pass only.
      io.stderr:write("usher-cold-pass-done\n")
      io.stderr:flush()
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local r, n, i, f, c, e, a = 0, 0, 0, 0, 0, 0, 0
   for _, thread in ipairs(threads) do
      r = r + thread:get("responses")
      n = n + thread:get("non200")
      i = i + thread:get("inactive")
      f = f + thread:get("not_found")
      c = c + thread:get("conflict")
      e = e + thread:get("server_errors")
      a = a + thread:get("retry_after_503")
   end
   io.write(string.format(
      "usher-check: responses=%d non200=%d inactive=%d tokens=0 not_found=%d conflict=%d server_errors=%d retry_after_503=%d max_us=%d\n",
      r, n, i, f, c, e, a, latency.max))
end
