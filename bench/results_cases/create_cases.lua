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
    return wrk.format(nil, nil, nil, string.format(
        '{"name":"Bench case %d","status":"New","priority":"High","case_type":"","description":"",'
        .. '"account":null,"closed_on":null,"assigned_to":[],"contacts":[],"teams":[],"tags":[]}', n))
end
