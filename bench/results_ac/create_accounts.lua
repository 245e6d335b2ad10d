-- Each wrk thread runs its own copy of this script: number them in setup() so two threads never
-- send the same name or e-mail (unique per org: a clash is a 400, not a create).
local counter = 0
function setup(thread)
    counter = counter + 1
    thread:set("tid", counter)
end
local n = 0
function init(args)
    n = tid * 100000000 + (os.time() % 10000) * 10000
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
    n = n + 1
    return wrk.format(nil, nil, nil, string.format('{"name":"Bench account %d","industry":"SOFTWARE","city":"Oslo","annual_revenue":1000}', n))
end
