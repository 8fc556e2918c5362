// An express 4 app with one handler per protected path of the gateway's
// differential test. Every handler answers with an X-Handler header naming
// itself. It listens on 127.0.0.1 on a free port and prints the port.
// express defaults apply: routing ignores case and a trailing slash, and
// routes on the raw (undecoded) path. method-override reads the
// X-HTTP-Method-Override header and the _method query parameter on POST.
'use strict';
const express = require('express');
const methodOverride = require('method-override');

const app = express();
app.use(methodOverride('X-HTTP-Method-Override'));
app.use(methodOverride('X-HTTP-Method'));
app.use(methodOverride('X-Method-Override'));
app.use(methodOverride('_method'));

function handler(name) {
  return (req, res) => {
    res.set('X-Handler', name);
    res.set('X-Handler-Method', req.method);
    res.send(name + '\n');
  };
}

app.all(['/admin', '/admin/*'], handler('admin'));
app.all('/reports/:id/refund', handler('refund'));
app.all(['/reports', '/reports/*'], handler('reports'));
app.delete(['/orders', '/orders/*'], handler('orders-delete'));
app.post(['/orders', '/orders/*'], handler('orders-write'));
app.put(['/orders', '/orders/*'], handler('orders-write'));
app.get(['/orders', '/orders/*'], handler('orders-read'));
app.all(['/public', '/public/*'], handler('public'));
app.all('*', handler('any'));

const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write('listening ' + server.address().port + '\n');
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
