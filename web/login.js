/* Login page: carry ?next= through the form so the user lands back. */
'use strict';
var m = /[?&]next=([^&]*)/.exec(location.search);
if (m) document.getElementById('next').value = decodeURIComponent(m[1]);
