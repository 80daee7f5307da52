#!/usr/bin/python3
# Turns a file into a C array: embed.py INPUT OUTPUT SYMBOL
import sys

src, dst, sym = sys.argv[1:4]
data = open(src, 'rb').read()
with open(dst, 'w') as out:
    out.write('/* generated from %s by scripts/embed.py */\n' % src)
    out.write('const char %s[] = {\n' % sym)
    for i in range(0, len(data), 12):
        out.write('\t' + ' '.join('0x%02x,' % b for b in data[i:i + 12]) + '\n')
    out.write('\t0x00,\n};\n')
    out.write('const unsigned %s_len = %d;\n' % (sym, len(data)))
