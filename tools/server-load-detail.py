# Group the consumers of a saved /jsz dump by bucket, description and filter; count client
# subscriptions per connection. usage: server-load-detail.py DIR (printed by server-load.sh)
import json,collections,sys
d=sys.argv[1]
c=json.load(open(d+'/connz.json'))
subs=[len(x.get('subscriptions_list',[])) for x in c['connections']]
print('client conns',len(subs),'client subs',sum(subs), collections.Counter(subs))
j=json.load(open(d+'/jsz.json'))
cnt=collections.Counter()
for a in j['account_details']:
    for s in a.get('stream_detail',[]):
        for con in s.get('consumer_detail',[]) or []:
            cfg=con.get('config',{})
            cnt[(s['name'],cfg.get('description'),cfg.get('filter_subject') or cfg.get('filter_subjects'), con.get('push_bound'))]+=1
for k,v in sorted(cnt.items(), key=str): print(v,k)
