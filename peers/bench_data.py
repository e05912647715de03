#!/usr/bin/python3
"""Generated data of CIFAR-10's and LEAF Shakespeare's shapes, for `fedspark bench` (conf/bench-cifar-cnn.conf,
conf/bench-shakespeare-lstm.conf) where the real data sets are not on the machine. Standard library only.

  python3 peers/bench_data.py                 # writes data/bench/cifar10/ and data/bench/shakespeare/
  python3 peers/bench_data.py --out DIR --seed 1 --cifar-per-batch 2000 --roles 100

CIFAR-10 (DIR/cifar10/): the binary version's files, data_batch_1.bin .. data_batch_5.bin (--cifar-per-batch images
each) and test_batch.bin (--cifar-test images); each record is 1 label byte (0-9) then 3,072 pixel bytes, the red,
green and blue 32x32 planes. Pixels are uniform noise mixed with a faint tint of the image's class (a random colour
per class, --cifar-signal of each pixel's value), so a model learns a little and accuracy ends above chance.

Shakespeare (DIR/shakespeare/train/ and test/): LEAF's JSON ({"users", "num_samples", "user_data": {role: {"x",
"y"}}}), --roles speaking roles, each with 10 to 40 training examples and a quarter as many test examples (at least
one); x is 80 characters of LEAF's 80-character vocabulary, y the character that follows. Each role's text is drawn
from one first-order Markov chain over the vocabulary (each character has a few likely successors), so the next
character is partly predictable.

Same seed, same bytes. The sizes are the bench's, not the real sets' (CIFAR-10: 50,000 + 10,000; LEAF Shakespeare:
1,129 roles and about 4.2 million examples).
"""
import argparse
import json
import os
import random

# LEAF's ALL_LETTERS (language_utils.py), in its order: fedspark's ShakespeareSource.VOCABULARY.
VOCABULARY = "\n !\"&'(),-.0123456789:;>?ABCDEFGHIJKLMNOPQRSTUVWXYZ[]abcdefghijklmnopqrstuvwxyz}"
LENGTH = 80
PIXELS = 3 * 32 * 32


def cifar10(out, per_batch, test, signal, rng):
    os.makedirs(out, exist_ok=True)
    # a class's pattern: a colour (one random level per channel) over the whole image
    patterns = [b''.join(bytes([rng.randrange(256)]) * 1024 for _ in range(3)) for _ in range(10)]

    def batch(path, count):
        with open(path, 'wb') as f:
            for _ in range(count):
                label = rng.randrange(10)
                pattern = patterns[label]
                noise = rng.randbytes(PIXELS)
                f.write(bytes([label]))
                f.write(bytes(int((1 - signal) * n + signal * p) for n, p in zip(noise, pattern)))

    for b in range(1, 6):
        batch(os.path.join(out, f'data_batch_{b}.bin'), per_batch)
    batch(os.path.join(out, 'test_batch.bin'), test)


def shakespeare(out, roles, rng):
    successors = {c: rng.sample(VOCABULARY, 4) for c in VOCABULARY}

    def text(n):
        c = rng.choice(VOCABULARY)
        chars = []
        for _ in range(n):
            chars.append(c)
            c = rng.choice(successors[c]) if rng.random() < 0.7 else rng.choice(VOCABULARY)
        return ''.join(chars)

    splits = {'train': {'users': [], 'num_samples': [], 'user_data': {}}, 'test': {'users': [], 'num_samples': [], 'user_data': {}}}
    for r in range(roles):
        role = f'ROLE_{r:04d}'
        sizes = {'train': rng.randint(10, 40)}
        sizes['test'] = max(1, sizes['train'] // 4)
        for split, n in sizes.items():
            s = text(LENGTH + n)
            data = {'x': [s[i:i + LENGTH] for i in range(n)], 'y': [s[i + LENGTH] for i in range(n)]}
            splits[split]['users'].append(role)
            splits[split]['num_samples'].append(n)
            splits[split]['user_data'][role] = data
    for split, content in splits.items():
        folder = os.path.join(out, split)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f'all_data_{split}.json'), 'w') as f:
            json.dump(content, f)


def main():
    p = argparse.ArgumentParser(description='Generated CIFAR-10 and LEAF Shakespeare files for fedspark bench.')
    p.add_argument('--out', default='data/bench', help='folder for cifar10/ and shakespeare/ (default: data/bench)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--cifar-per-batch', type=int, default=2000, help='images in each of the 5 training batches')
    p.add_argument('--cifar-test', type=int, default=2000, help='images in test_batch.bin')
    p.add_argument('--cifar-signal', type=float, default=0.3, help='weight of the class pattern in a pixel (0: pure noise)')
    p.add_argument('--roles', type=int, default=100, help='Shakespeare speaking roles (users)')
    a = p.parse_args()
    cifar10(os.path.join(a.out, 'cifar10'), a.cifar_per_batch, a.cifar_test, a.cifar_signal, random.Random(a.seed))
    shakespeare(os.path.join(a.out, 'shakespeare'), a.roles, random.Random(a.seed + 1))
    print(f'wrote {a.out}/cifar10 ({5 * a.cifar_per_batch} + {a.cifar_test} images) and {a.out}/shakespeare ({a.roles} roles)')


if __name__ == '__main__':
    main()
