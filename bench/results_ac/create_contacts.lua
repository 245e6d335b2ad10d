local n = math.random(1, 1000000000)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
    n = n + 1
    return wrk.format(nil, nil, nil, string.format('{"first_name":"Bench","last_name":"Contact","email":"bench%d@example.org"}', n))
end
