"""The report's inline stylesheet and script. The script only adds hover read-outs and table sorting:
every chart is plain SVG and reads without it."""

from __future__ import annotations

CSS = """
:root{--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--bg:#f5f6f8;--card:#fff;--pos:#15803d;--neg:#b91c1c;
--blue:#2563eb;--grey:#9ca3af}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,"Noto Sans",sans-serif}
.num,td.num,.v,.tip span,table.kv td{font-variant-numeric:tabular-nums}
main{max-width:1220px;margin:0 auto;padding:0 24px 48px}
header.top{max-width:1220px;margin:0 auto;padding:28px 24px 8px}
h1{font-size:24px;line-height:1.2;margin:0 0 6px;font-weight:650;letter-spacing:-.01em}
h1 small{font-size:15px;color:var(--muted);font-weight:500;margin-left:6px}
h2{font-size:17px;margin:0 0 4px;font-weight:650}
h3{font-size:13px;margin:18px 0 8px;font-weight:600;color:#374151;text-transform:uppercase;letter-spacing:.04em}
p{margin:6px 0}
.meta{display:flex;flex-wrap:wrap;gap:6px;margin:10px 0 6px}
.chip{background:#fff;border:1px solid var(--line);border-radius:999px;padding:2px 10px;font-size:13px;color:#374151}
.chip b{font-weight:600;color:var(--fg)}
.gen{color:var(--muted);font-size:12px;margin-top:6px}
nav.toc{position:sticky;top:0;z-index:5;background:rgba(245,246,248,.92);backdrop-filter:blur(6px);
border-bottom:1px solid var(--line);margin-bottom:18px}
nav.toc div{max-width:1220px;margin:0 auto;padding:8px 24px;display:flex;gap:18px;flex-wrap:wrap}
nav.toc a{color:#374151;text-decoration:none;font-size:13px;font-weight:500}
nav.toc a:hover{color:var(--blue)}
section{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:18px 20px;margin:0 0 18px;
box-shadow:0 1px 2px rgba(16,24,40,.04)}
section>.sub{color:var(--muted);font-size:13px;margin:0 0 12px}
.cards{display:grid;grid-template-columns:repeat(7,1fr);gap:12px;margin:0 0 18px}
.card{background:#fff;border:1px solid var(--line);border-radius:12px;padding:12px 14px;
box-shadow:0 1px 2px rgba(16,24,40,.04)}
.card .k{font-size:12px;color:var(--muted);font-weight:500}
.card .v{font-size:22px;font-weight:650;margin:2px 0 1px;letter-spacing:-.01em;white-space:nowrap}
.card .s{font-size:12px;color:var(--muted);white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.pos{color:var(--pos)}.neg{color:var(--neg)}.muted{color:var(--muted)}
.chart{position:relative}
.chart svg{display:block;width:100%;height:auto;overflow:visible}
svg text{font-family:inherit}
svg .ax{font-size:11px;fill:#6b7280}
svg .pl{font-size:12px;font-weight:600;fill:#374151;paint-order:stroke;stroke:#fff;stroke-width:4px;
stroke-linejoin:round}
svg .note{font-size:11px;fill:#374151;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
svg .xh{stroke:#374151;stroke-width:1;stroke-dasharray:3 3;pointer-events:none}
svg .mk{stroke:#fff;stroke-width:.8}
svg .mk:hover{stroke:#111827;stroke-width:1.2}
.legend{display:flex;gap:16px;flex-wrap:wrap;align-items:center;font-size:12px;color:#374151;margin:4px 0 6px}
.legend i{display:inline-block;width:14px;height:3px;border-radius:2px;vertical-align:middle;margin-right:5px}
.legend i.sq{width:10px;height:10px}
.legend .mk-up,.legend .mk-dn{font-style:normal;font-size:12px;margin-right:4px}
.toolbar{margin-left:auto;display:inline-flex;border:1px solid var(--line);border-radius:8px;overflow:hidden}
.toolbar label{padding:2px 10px;cursor:pointer;color:var(--muted);font-size:12px;user-select:none}
.scale-in{position:absolute;opacity:0;pointer-events:none}
#eq-lin:checked~.legend label[for=eq-lin],#eq-log:checked~.legend label[for=eq-log]{background:#eef2ff;
color:#1e40af;font-weight:600}
#eq-lin:checked~.chart .when-log,#eq-log:checked~.chart .when-lin{display:none}
.tip{position:absolute;display:none;pointer-events:none;background:rgba(17,24,39,.94);color:#f9fafb;
border-radius:8px;padding:7px 10px;font-size:12px;line-height:1.5;min-width:170px;z-index:3;
box-shadow:0 4px 14px rgba(0,0,0,.18)}
.tip b{display:block;font-weight:600;margin-bottom:2px}
.tip div{display:flex;gap:8px;align-items:center}
.tip span{margin-left:auto;padding-left:10px}
.tip i{width:8px;height:8px;border-radius:2px;display:inline-block}
.sym{margin:0 0 22px}.sym:last-child{margin-bottom:0}
.sym h3{margin:0 0 2px;text-transform:none;letter-spacing:0;font-size:15px;color:var(--fg)}
.sym h3>span{font-weight:400;color:var(--muted);font-size:13px;margin-left:8px}
table{border-collapse:collapse;width:100%}
th,td{padding:5px 8px;text-align:left;border-bottom:1px solid #f0f1f3;vertical-align:top}
th{font-size:12px;color:var(--muted);font-weight:600;border-bottom:1px solid var(--line);white-space:nowrap}
td.num,th.num{text-align:right;white-space:nowrap}
tbody tr:hover{background:#f9fafb}
.wrap{overflow-x:auto}
table.sortable th{cursor:pointer}
table.sortable th:hover{color:var(--fg)}
table.sortable th.asc::after{content:" ▲";font-size:9px}
table.sortable th.desc::after{content:" ▼";font-size:9px}
.trades td,.trades th{font-size:12.5px;padding:4px 6px;white-space:nowrap}
.scroll{max-height:640px;overflow:auto;border:1px solid var(--line);border-radius:8px}
.scroll thead th{position:sticky;top:0;background:#fff;z-index:1}
.badge{display:inline-block;border-radius:999px;padding:0 8px;font-size:11.5px;font-weight:500;white-space:nowrap;
border:1px solid transparent}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:8px 40px;align-items:start}
table.kv td:first-child{color:#374151}
table.kv td.num{font-weight:500}
table.kv tr.group td{padding-top:14px;font-size:12px;font-weight:650;text-transform:uppercase;letter-spacing:.04em;
color:var(--muted);border-bottom:1px solid var(--line)}
.heat td,.heat th{text-align:center;vertical-align:middle;padding:0;border:2px solid #fff;height:34px;font-size:12.5px}
.heat th{height:26px}
.heat th:first-child,.heat td:first-child{text-align:left;padding-left:6px;font-weight:600;width:60px}
.heat td.m{min-width:62px}
.heat td.yr{font-weight:650;border-left:8px solid #fff}
.heat td.partial{font-style:italic}
.heat td.none{background:#fafafa}
.heat tbody tr:hover{background:transparent}
.scale-key{display:flex;align-items:center;gap:8px;font-size:12px;color:var(--muted);margin-top:10px}
.scale-key span.bar{display:inline-block;width:220px;height:10px;border-radius:3px;
background:linear-gradient(90deg,rgb(185,28,28),rgb(254,242,242) 50%,rgb(21,128,61))}
.notes li{margin:3px 0}
.warn{color:#92400e}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f3f4f6;border-radius:4px;
padding:1px 5px}
.empty{color:var(--muted);font-style:italic}
footer{color:var(--muted);font-size:12px;text-align:center;margin:8px 0 0}
@media (max-width:1100px){.cards{grid-template-columns:repeat(4,1fr)}.cols{grid-template-columns:1fr}}
@media print{nav.toc{display:none}section,.card{box-shadow:none;break-inside:avoid}body{background:#fff}}
"""

JS = """
(function(){
function esc(s){return String(s).replace(/[&<>"']/g,function(c){return '&#'+c.charCodeAt(0)+';';});}
function num(v,d){return v.toLocaleString('en-US',{minimumFractionDigits:d,maximumFractionDigits:d});}
function fmt(f,v){
  if(v===null||v===undefined)return 'n/a';
  if(f==='pct')return num(v*100,2)+'%';
  if(f==='money')return num(v,2);
  return v.toLocaleString('en-US',{maximumSignificantDigits:8});
}
function day(ms){return new Date(ms).toISOString().slice(0,16).replace('T',' ')+' UTC';}
document.querySelectorAll('[data-hover]').forEach(function(box){
  var src=document.getElementById(box.getAttribute('data-hover'));
  if(!src)return;
  var d=JSON.parse(src.textContent),svg=box.querySelector('svg'),line=svg.querySelector('.xh');
  var tip=document.createElement('div');tip.className='tip';box.appendChild(tip);
  function hide(){tip.style.display='none';if(line)line.style.display='none';}
  svg.addEventListener('mousemove',function(e){
    var m=svg.getScreenCTM();if(!m)return;
    var pt=svg.createSVGPoint();pt.x=e.clientX;pt.y=e.clientY;var p=pt.matrixTransform(m.inverse());
    if(p.x<d.x0||p.x>d.x0+d.w||!d.t.length){hide();return;}
    var t=d.t0+(p.x-d.x0)/d.w*(d.t1-d.t0),lo=0,hi=d.t.length-1;
    while(lo<hi){var mid=(lo+hi)>>1;if(d.t[mid]<t)lo=mid+1;else hi=mid;}
    if(lo>0&&t-d.t[lo-1]<d.t[lo]-t)lo--;
    var x=d.x0+(d.t[lo]-d.t0)/(d.t1-d.t0)*d.w;
    if(line){line.setAttribute('x1',x);line.setAttribute('x2',x);line.style.display='';}
    var h='<b>'+day(d.t[lo])+'</b>';
    d.s.forEach(function(s){h+='<div><i style="background:'+esc(s.c)+'"></i>'+esc(s.n)+'<span>'+fmt(s.f,s.v[lo])+
      '</span></div>';});
    tip.innerHTML=h;tip.style.display='block';
    var r=box.getBoundingClientRect(),left=e.clientX-r.left+14;
    if(left+tip.offsetWidth>r.width)left=e.clientX-r.left-tip.offsetWidth-14;
    tip.style.left=left+'px';tip.style.top=Math.max(0,e.clientY-r.top-tip.offsetHeight/2)+'px';
  });
  svg.addEventListener('mouseleave',hide);
});
document.querySelectorAll('table.sortable').forEach(function(table){
  var heads=table.tHead.rows[0].cells,body=table.tBodies[0];
  Array.prototype.forEach.call(heads,function(th,col){
    th.addEventListener('click',function(){
      var asc=!th.classList.contains('asc');
      Array.prototype.forEach.call(heads,function(h){h.classList.remove('asc','desc');});
      th.classList.add(asc?'asc':'desc');
      var rows=Array.prototype.slice.call(body.rows);
      function key(r){var c=r.cells[col],v=c.getAttribute('data-v');if(v===null)v=c.textContent;
        var n=parseFloat(String(v).replace(/[,%+]/g,''));return isNaN(n)?String(v):n;}
      rows.sort(function(a,b){var x=key(a),y=key(b);var c=(typeof x===typeof y)?(x<y?-1:x>y?1:0):
        (typeof x==='number'?-1:1);return asc?c:-c;});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
});
})();
"""
