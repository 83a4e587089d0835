"""Small web applications the middleware tests run, in process and as servers."""
